//! `examples/metrics.rs` served on an ephemeral loopback port and scraped
//! by a real HTTP client: the Prometheus counters and gauges equal the work
//! done (tasks by function, failures, actor restarts, store bytes, spills).

use std::collections::BTreeMap;
use std::error::Error;

#[path = "../../examples/metrics.rs"]
#[allow(dead_code)]
mod example;

/// One sample of the Prometheus text: its labels and value.
#[derive(Debug)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of `metric` in the Prometheus text `text`.
fn samples(text: &str, metric: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            if name != metric {
                return None;
            }
            let labels = labels
                .split(',')
                .filter(|l| !l.is_empty())
                .filter_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect();
            Some(Sample {
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The value of the one sample of `metric` whose labels include `labels`.
fn value(text: &str, metric: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<Sample> = samples(text, metric)
        .into_iter()
        .filter(|s| {
            labels.iter().all(|(k, v)| {
                s.labels
                    .get(*k)
                    .is_some_and(|l| l == v || (*k == "function" && l.ends_with(v)))
            })
        })
        .collect();
    assert_eq!(found.len(), 1, "{metric} {labels:?} in:\n{text}");
    found[0].value
}

#[rustyray::test(num_cpus = 2, object_store_memory = 3000)]
async fn scraped_metrics_equal_the_work_done() -> Result<(), Box<dyn Error>> {
    let runtime = rustyray::global()?;
    let name = runtime.name().to_string();
    // 25 tasks that finish, 3 that fail and 2 that do not.
    let squares = (0..25u64)
        .map(example::square::remote)
        .collect::<rustyray::Result<Vec<_>>>()?;
    assert_eq!(rustyray::get_all_async(&squares).await?.len(), 25);
    let mut failed = 0;
    for x in 0..5u64 {
        if example::even_only::remote(x)?.await.is_err() {
            failed += 1;
        }
    }
    assert_eq!(failed, 2);
    // An actor that crashes once and is restarted.
    let tally = example::Tally::options().max_restarts(1).remote()?;
    assert_eq!(tally.add(2)?.await?, 2);
    assert!(tally.crash()?.await.is_err());
    assert_eq!(tally.add(3)?.await?, 3);
    // Three objects of 1,002 bytes under a 3,000-byte limit: some spill.
    let kept: Vec<_> = (0..3u8)
        .map(|i| rustyray::put(vec![i; 1000]))
        .collect::<rustyray::Result<_>>()?;
    let memory = runtime.memory();
    assert!(memory.spilled_total >= 1, "{memory:?}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(example::serve(listener, runtime.clone()));
    // The store's figures as one scrape saw them: results of the calls
    // above may still be landing (or being freed) in the background, so
    // scrape until the store reads the same before and after a scrape.
    let mut attempts = 0;
    let (text, memory) = loop {
        let before = runtime.memory();
        let text = reqwest::get(format!("http://{addr}/metrics"))
            .await?
            .text()
            .await?;
        let after = runtime.memory();
        attempts += 1;
        if before == after || attempts == 100 {
            break (text, after);
        }
    };
    server.abort();

    let rt = ("runtime", name.as_str());
    let square = [rt, ("function", "square")];
    assert_eq!(
        value(&text, "rustyray_tasks_submitted_total", &square),
        25.0
    );
    assert_eq!(value(&text, "rustyray_tasks_finished_total", &square), 25.0);
    assert_eq!(value(&text, "rustyray_tasks_failed_total", &square), 0.0);
    let even_only = [rt, ("function", "even_only")];
    assert_eq!(
        value(&text, "rustyray_tasks_submitted_total", &even_only),
        5.0
    );
    assert_eq!(
        value(&text, "rustyray_tasks_finished_total", &even_only),
        3.0
    );
    assert_eq!(value(&text, "rustyray_tasks_failed_total", &even_only), 2.0);
    let add = [rt, ("function", "Tally.add")];
    assert_eq!(value(&text, "rustyray_tasks_finished_total", &add), 2.0);
    let crash = [rt, ("function", "Tally.crash")];
    assert_eq!(value(&text, "rustyray_tasks_failed_total", &crash), 1.0);
    // The creation and the restart.
    let new = [rt, ("function", "Tally.new")];
    assert_eq!(value(&text, "rustyray_tasks_finished_total", &new), 2.0);
    assert_eq!(value(&text, "rustyray_actor_restarts_total", &[rt]), 1.0);
    assert_eq!(
        value(&text, "rustyray_actors", &[rt, ("state", "alive")]),
        1.0
    );
    for state in ["waiting_for_dependencies", "queued", "running"] {
        assert_eq!(value(&text, "rustyray_tasks", &[rt, ("state", state)]), 0.0);
    }
    // The store as the scrape saw it.
    let bytes = |location| {
        value(
            &text,
            "rustyray_object_store_bytes",
            &[rt, ("location", location)],
        )
    };
    assert_eq!(bytes("memory"), memory.bytes_in_memory as f64);
    assert_eq!(bytes("disk"), memory.bytes_spilled as f64);
    let spilled = value(&text, "rustyray_objects_spilled_total", &[rt]);
    assert_eq!(spilled, memory.spilled_total as f64);
    assert_eq!(value(&text, "rustyray_objects_restored_total", &[rt]), 0.0);
    drop(kept);
    Ok(())
}
