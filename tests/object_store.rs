//! The object store: put/get of many types, ordering, immutability, ref
//! identity, async access, blocking refused inside async code, and exact
//! memory accounting.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Barrier;
use std::time::Duration;

use rustyray::{Config, Error, MemoryStats, ObjectRef};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Shape {
    Dot(Point),
    Polygon { name: String, corners: Vec<Point> },
    Empty,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Scene {
    id: u64,
    title: Option<String>,
    shapes: Vec<Shape>,
    tags: BTreeMap<String, Vec<u8>>,
    weight: f64,
}

fn scene() -> Scene {
    Scene {
        id: u64::MAX,
        title: Some("tri".into()),
        shapes: vec![
            Shape::Dot(Point { x: -1, y: 2 }),
            Shape::Polygon {
                name: "triangle".into(),
                corners: vec![
                    Point { x: 0, y: 0 },
                    Point { x: 3, y: 0 },
                    Point { x: 0, y: 4 },
                ],
            },
            Shape::Empty,
        ],
        tags: BTreeMap::from([("a".into(), vec![1, 2]), ("b".into(), vec![])]),
        weight: -0.25,
    }
}

fn multi_thread_tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn put_and_get_return_equal_values_of_many_types() {
    let _rt = rustyray::init(Config::default()).unwrap();

    assert_eq!(rustyray::get(&rustyray::put(-42i64).unwrap()).unwrap(), -42);
    assert_eq!(
        rustyray::get(&rustyray::put(u128::MAX).unwrap()).unwrap(),
        u128::MAX
    );
    assert!(rustyray::get(&rustyray::put(true).unwrap()).unwrap());
    assert_eq!(rustyray::get(&rustyray::put('ß').unwrap()).unwrap(), 'ß');
    assert_eq!(rustyray::get(&rustyray::put(1.5f64).unwrap()).unwrap(), 1.5);
    assert_eq!(rustyray::get(&rustyray::put(()).unwrap()).unwrap(), ());
    assert_eq!(
        rustyray::get(&rustyray::put(String::from("héllo")).unwrap()).unwrap(),
        "héllo"
    );
    assert_eq!(
        rustyray::get(&rustyray::put((7u16, "x".to_string(), -1i8)).unwrap()).unwrap(),
        (7, "x".to_string(), -1)
    );

    let mib: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let got = rustyray::get(&rustyray::put(mib.clone()).unwrap()).unwrap();
    assert_eq!(got.len(), 1 << 20);
    assert_eq!(got, mib);

    assert_eq!(
        rustyray::get(&rustyray::put(scene()).unwrap()).unwrap(),
        scene()
    );

    let some: Option<Vec<String>> = Some(vec!["a".into(), "".into()]);
    assert_eq!(
        rustyray::get(&rustyray::put(some.clone()).unwrap()).unwrap(),
        some
    );
    let none: Option<Point> = None;
    assert_eq!(rustyray::get(&rustyray::put(none).unwrap()).unwrap(), None);
    assert_eq!(
        rustyray::get(&rustyray::put(Some(5i64)).unwrap()).unwrap(),
        Some(5)
    );

    let map: HashMap<String, Vec<i32>> = (0..50)
        .map(|i| (format!("k{i}"), (0..i).collect()))
        .collect();
    assert_eq!(
        rustyray::get(&rustyray::put(map.clone()).unwrap()).unwrap(),
        map
    );
}

#[test]
fn explicit_handle_and_ref_methods_agree_with_free_functions() {
    let rt = rustyray::init(Config::default()).unwrap();
    let r = rt.put(vec![1.5f32, -2.0]).unwrap();
    assert_eq!(rt.get(&r).unwrap(), vec![1.5, -2.0]);
    assert_eq!(r.get().unwrap(), vec![1.5, -2.0]);
    assert_eq!(rustyray::get(&r).unwrap(), vec![1.5, -2.0]);
    assert_eq!(
        rt.get_timeout(&r, Duration::from_secs(5)).unwrap(),
        vec![1.5, -2.0]
    );
    assert_eq!(rt.get_all(&[r.clone(), r]).unwrap().len(), 2);
}

#[test]
fn get_all_returns_values_in_ref_order() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let refs: Vec<ObjectRef<String>> = (0..100)
        .rev()
        .map(|i| rustyray::put(format!("v{i}")).unwrap())
        .collect();
    let expected: Vec<String> = (0..100).rev().map(|i| format!("v{i}")).collect();
    assert_eq!(rustyray::get_all(&refs).unwrap(), expected);

    let shuffled = vec![refs[3].clone(), refs[0].clone(), refs[3].clone()];
    assert_eq!(rustyray::get_all(&shuffled).unwrap(), ["v96", "v99", "v96"]);
    assert_eq!(
        rustyray::get_all::<String>(&[]).unwrap(),
        Vec::<String>::new()
    );
}

#[test]
fn get_timeout_on_a_ready_ref_returns_the_value() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(vec![9i64; 3]).unwrap();
    assert_eq!(
        rustyray::get_timeout(&r, Duration::from_millis(1)).unwrap(),
        vec![9, 9, 9]
    );
    assert_eq!(r.get_timeout(Duration::ZERO).unwrap(), vec![9, 9, 9]);
}

#[test]
fn awaiting_a_ref_inside_a_scoped_future_returns_its_value() {
    let rt = rustyray::init(Config::default()).unwrap();
    let tokio = multi_thread_tokio();
    let out = tokio
        .block_on(tokio.spawn(rt.scope(async {
            let r = rustyray::put(scene())?;
            tokio::task::yield_now().await;
            let by_ref = (&r).await?;
            let copy = r.clone();
            let by_value = r.await?;
            let again = copy.await?;
            Ok::<_, Error>((by_ref, by_value, again))
        })))
        .unwrap()
        .unwrap();
    assert_eq!(out, (scene(), scene(), scene()));
}

#[test]
fn stored_values_are_immutable() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let mut mine = vec![1u32, 2, 3];
    let r = rustyray::put(mine.clone()).unwrap();
    mine.push(4);
    mine[0] = 100;
    assert_eq!(rustyray::get(&r).unwrap(), vec![1, 2, 3]);

    let mut got = rustyray::get(&r).unwrap();
    got.clear();
    assert_eq!(rustyray::get(&r).unwrap(), vec![1, 2, 3]);

    let mut s = scene();
    let rs = rustyray::put(s.clone()).unwrap();
    s.shapes.clear();
    let mut got = rustyray::get(&rs).unwrap();
    got.title = None;
    assert_eq!(rustyray::get(&rs).unwrap(), scene());
}

#[test]
// `ObjectRef` holds its cell (which has a `Mutex`) but hashes by its immutable
// id only, so clippy's interior-mutability warning does not apply.
#[allow(clippy::mutable_key_type)]
fn refs_are_equal_and_hashed_by_object_id() {
    let rt = rustyray::init(Config::default()).unwrap();
    let a = rustyray::put(5i64).unwrap();
    let b = rustyray::put(5i64).unwrap();
    assert_ne!(a.id(), b.id());
    assert_ne!(a, b);
    let a2 = a.clone();
    assert_eq!(a, a2);
    assert_eq!(a.id(), a2.id());
    assert_eq!(a.id().runtime(), rt.id());
    assert_eq!(b.id().runtime(), rt.id());
    assert_eq!(b.id().index(), a.id().index() + 1);

    let set: HashSet<ObjectRef<i64>> = [a.clone(), b.clone(), a2, b.clone()].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert!(set.contains(&a));
    assert!(set.contains(&b));
}

#[test]
fn objects_of_a_fresh_runtime_are_numbered_from_one() {
    let rt = rustyray::init(Config::default()).unwrap();
    let first = rustyray::put(0u8).unwrap();
    let second = rustyray::put(0u8).unwrap();
    assert_eq!(first.id().index(), 1);
    assert_eq!(second.id().index(), 2);
    assert_eq!(
        first.id().to_string(),
        format!("obj-{:016x}-1", rt.id().as_u64())
    );
}

#[test]
fn ref_debug_shows_its_id() {
    let _rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(1i64).unwrap();
    let id = r.id().to_string();
    assert_eq!(format!("{:?}", r.id()), id);
    assert_eq!(format!("{r:?}"), format!("ObjectRef<i64>({id})"));
}

#[test]
fn blocking_get_of_a_ready_ref_inside_an_async_task_is_refused() {
    let rt = rustyray::init(Config::default()).unwrap();
    let r = rustyray::put(3u32).unwrap();
    let tokio = multi_thread_tokio();
    let result = tokio
        .block_on(tokio.spawn(rt.scope(async move { rustyray::get(&r) })))
        .unwrap();
    match result {
        Err(Error::BlockingInAsync { call }) => assert_eq!(call, "get"),
        other => panic!("expected BlockingInAsync, got {other:?}"),
    }
}

static RELEASE_PENDING: Barrier = Barrier::new(2);

#[rustyray::remote]
fn released_by_the_test() -> u64 {
    RELEASE_PENDING.wait();
    77
}

#[test]
fn blocking_get_of_a_pending_ref_inside_an_async_task_is_refused_not_deadlocked() {
    let rt = rustyray::init(Config::default().num_cpus(2)).unwrap();
    let pending = released_by_the_test::remote().unwrap();
    let tokio = multi_thread_tokio();
    let r = pending.clone();
    let result = tokio
        .block_on(tokio.spawn(rt.scope(async move { rustyray::get(&r) })))
        .unwrap();
    match result {
        Err(Error::BlockingInAsync { call }) => assert_eq!(call, "get"),
        other => panic!("expected BlockingInAsync, got {other:?}"),
    }
    match rustyray::get_timeout(&pending, Duration::from_millis(5)) {
        Err(Error::Timeout { timeout, .. }) => assert_eq!(timeout, Duration::from_millis(5)),
        other => panic!("expected Timeout, got {other:?}"),
    }
    RELEASE_PENDING.wait();
    assert_eq!(rustyray::get(&pending).unwrap(), 77);
}

#[test]
fn awaiting_after_shutdown_returns_shut_down() {
    let rt = rustyray::init(Config::default().name("await-after-shutdown")).unwrap();
    let r = rustyray::put(1u8).unwrap();
    rt.shutdown();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match tokio.block_on(async { r.await }) {
        Err(Error::ShutDown { runtime }) => assert_eq!(runtime, "await-after-shutdown"),
        other => panic!("expected ShutDown, got {other:?}"),
    }
}

#[test]
fn memory_counts_objects_and_their_encoded_bytes_exactly() {
    let rt = rustyray::init(Config::default().object_store_memory(1 << 20)).unwrap();
    let empty = MemoryStats {
        objects_in_memory: 0,
        bytes_in_memory: 0,
        objects_spilled: 0,
        bytes_spilled: 0,
        spilled_total: 0,
        restored_total: 0,
        limit: 1 << 20,
    };
    assert_eq!(rt.memory(), empty);

    let bytes = rustyray::put(vec![0u8; 1000]).unwrap();
    assert_eq!(rt.memory().objects_in_memory, 1);
    assert_eq!(rt.memory().bytes_in_memory, 1002);

    let small = rustyray::put(5u8).unwrap();
    let text = rustyray::put("abc".to_string()).unwrap();
    // (u32 varint 1 byte, String "ab" 1 + 2 bytes), through the generic size path.
    let pair = rustyray::put((1u32, "ab".to_string())).unwrap();
    let point = rustyray::put(Point { x: 1, y: -1 }).unwrap();
    assert_eq!(
        rt.memory(),
        MemoryStats {
            objects_in_memory: 5,
            bytes_in_memory: 1002 + 1 + 4 + 4 + 2,
            ..empty
        }
    );

    // Clones and reads do not change the accounts.
    let copies = (bytes.clone(), text.clone());
    assert_eq!(rustyray::get(&text).unwrap(), "abc");
    assert_eq!(rt.memory().objects_in_memory, 5);

    drop(bytes);
    assert_eq!(rt.memory().objects_in_memory, 5, "a clone keeps it alive");
    drop(copies);
    assert_eq!(rt.memory().objects_in_memory, 4);
    assert_eq!(rt.memory().bytes_in_memory, 1 + 4 + 4 + 2);

    drop((small, text, pair, point));
    assert_eq!(rt.memory(), empty);
}

#[test]
fn memory_of_each_runtime_is_its_own() {
    let a = rustyray::init(Config::default()).unwrap();
    let ra = a.put(vec![1u8; 10]).unwrap();
    let b = rustyray::init(Config::default()).unwrap();
    let rb = b.put(vec![1u8; 20]).unwrap();
    assert_eq!(
        (a.memory().objects_in_memory, a.memory().bytes_in_memory),
        (1, 11)
    );
    assert_eq!(
        (b.memory().objects_in_memory, b.memory().bytes_in_memory),
        (1, 21)
    );
    drop((ra, rb));
    assert_eq!(a.memory().bytes_in_memory, 0);
    assert_eq!(b.memory().bytes_in_memory, 0);
}
