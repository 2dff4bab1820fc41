//! `examples/tokio_service.rs` served on an ephemeral loopback port and
//! driven by a real HTTP client: 200 concurrent requests answered exactly,
//! and a request its client gives up on cancels the task behind it.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[path = "../../examples/tokio_service.rs"]
#[allow(dead_code)]
mod service;

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

#[rustyray::test(num_cpus = 2)]
async fn the_service_answers_two_hundred_concurrent_requests_and_cancels_what_clients_abandon(
) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(service::serve(listener));
    let client = reqwest::Client::new();

    let mut requests = tokio::task::JoinSet::new();
    for i in 0..100i64 {
        let (adder, url) = (client.clone(), format!("http://{addr}/add?a={i}&b=1000"));
        requests.spawn(async move { ("add", i, adder.get(url).send().await) });
        let (counter, url) = (client.clone(), format!("http://{addr}/count/1"));
        requests.spawn(async move { ("count", i, counter.post(url).send().await) });
    }
    let (mut sums, mut counts) = (Vec::new(), BTreeSet::new());
    while let Some(joined) = requests.join_next().await {
        let (what, i, response) = joined?;
        let response = response?;
        assert_eq!(response.status(), 200, "{what} {i}");
        let body: i64 = response.text().await?.parse()?;
        match what {
            "add" => sums.push((i, body)),
            _ => assert!(counts.insert(body), "count {body} answered twice"),
        }
    }
    sums.sort();
    assert_eq!(sums, (0..100).map(|i| (i, i + 1000)).collect::<Vec<_>>());
    // Each of the 100 increments saw the counter at a different value.
    assert_eq!(counts, (1..=100).collect::<BTreeSet<_>>());

    // A client that gives up: its handler is dropped, and with it the task.
    let cancelled = service::SLOW_CANCELLED_SIGNAL.notified();
    tokio::pin!(cancelled);
    cancelled.as_mut().enable();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()?;
    let outcome = impatient
        .get(format!("http://{addr}/slow?ms=600000"))
        .send()
        .await;
    assert!(outcome.is_err_and(|e| e.is_timeout()));
    tokio::time::timeout(PATIENCE, cancelled)
        .await
        .map_err(|_| "the abandoned task was never cancelled")?;
    assert_eq!(service::SLOW_CANCELLED.load(Ordering::SeqCst), 1);

    server.abort();
    Ok(())
}
