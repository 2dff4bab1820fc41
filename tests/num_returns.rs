//! Per-call `num_returns`: `f::options().num_returns(n)` on a function
//! returning `Vec<T>` makes one object per element.

mod common;

use std::time::Duration;

use common::get;
use rustyray::{Config, Error, ObjectRef};

/// How long anything waits for a condition before the test gives up.
const PATIENCE: Duration = Duration::from_secs(20);

#[rustyray::remote]
fn squares(n: u32) -> Vec<u32> {
    (1..=n).map(|i| i * i).collect()
}

#[rustyray::remote]
async fn words(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w{i}")).collect()
}

#[rustyray::remote]
fn checked(n: u32) -> Result<Vec<u32>, String> {
    if n == 0 {
        Err("zero".to_string())
    } else {
        Ok(vec![n; n as usize])
    }
}

#[test]
fn each_element_is_its_own_object() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let refs: Vec<ObjectRef<u32>> = squares::options().num_returns(3).remote(3).unwrap();
    assert_eq!(refs.len(), 3);
    assert_eq!(rustyray::get_all(&refs).unwrap(), vec![1, 4, 9]);
    // The plain call still returns the whole vector as one object.
    assert_eq!(get(&squares::remote(3).unwrap()).unwrap(), vec![1, 4, 9]);
    let words = words::options()
        .num_returns(2)
        .name("two words")
        .remote(2)
        .unwrap();
    assert_eq!(get(&words[1]).unwrap(), "w1");
    assert_eq!(
        squares::options().num_returns(0).remote(0).unwrap(),
        Vec::<ObjectRef<u32>>::new()
    );
}

#[test]
fn a_vector_of_another_length_fails_every_ref() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let refs = squares::options().num_returns(2).remote(3).unwrap();
    for r in &refs {
        match get(r) {
            Err(Error::TaskFailed { message, .. }) => assert_eq!(
                message,
                "it returned 3 values, but the call asked for num_returns = 2"
            ),
            other => panic!("expected TaskFailed, got {other:?}"),
        }
    }
}

#[test]
fn an_err_fails_every_ref_and_an_ok_splits() {
    let _rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let ok = checked::options().num_returns(2).remote(2).unwrap();
    assert_eq!(rustyray::get_all(&ok).unwrap(), vec![2, 2]);
    let failed = checked::options().num_returns(1).remote(0).unwrap();
    match get(&failed[0]) {
        Err(Error::TaskFailed { message, .. }) => assert_eq!(message, "zero"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
}
