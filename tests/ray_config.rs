//! `Config::ray` in a build without the cargo feature `ray`, and addresses
//! that are not ones.

use rustyray::{Config, Error};

fn refusal(address: &str) -> (&'static str, String) {
    match rustyray::init(Config::default().ray(address)) {
        Err(Error::InvalidConfig { field, reason }) => (field, reason),
        Err(other) => panic!("expected InvalidConfig, got {other:?}"),
        Ok(_) => panic!("init accepted ray({address:?})"),
    }
}

#[cfg(not(feature = "ray"))]
#[test]
fn without_the_feature_ray_is_refused_naming_it() {
    for address in ["auto", "local", "127.0.0.1:6379"] {
        let (field, reason) = refusal(address);
        assert_eq!(field, "ray");
        assert_eq!(
            reason,
            format!(
                "= {address:?}: running on a Ray cluster needs RustyRay's cargo feature `ray` \
                 (`rustyray = {{ version = \"0.1\", features = [\"ray\"] }}`) and Ray itself \
                 (`pip install ray==2.60.0`)"
            )
        );
    }
    assert!(!rustyray::is_initialized());
}

#[test]
fn addresses_that_are_not_ones_are_refused() {
    for address in [
        "",
        "cluster",
        "127.0.0.1",
        ":6379",
        "host:0",
        "host:port",
        "host:70000",
    ] {
        let (field, reason) = refusal(address);
        assert_eq!(field, "ray");
        assert_eq!(
            reason,
            format!(
                "= {address:?}: must be \"auto\", \"local\" or \"HOST:PORT\" (as `ray start` prints it)"
            )
        );
    }
}
