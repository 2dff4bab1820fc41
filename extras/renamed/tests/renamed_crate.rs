//! The four macros through a renamed dependency: this package has
//! `renamed_ray = { package = "rustyray", .. }` and no `rustyray` at all,
//! so every path an expansion emits must go through `crate = ".."`.

use renamed_ray::{Error, ObjectRef, Result};

#[renamed_ray::remote(crate = "renamed_ray")]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[renamed_ray::remote(crate = "renamed_ray", num_returns = 2, num_cpus = 0.5)]
fn parse(text: String) -> std::result::Result<(u64, usize), String> {
    let n = text
        .parse()
        .map_err(|_| format!("not a number: {text:?}"))?;
    Ok((n, text.len()))
}

#[renamed_ray::remote(crate = "renamed_ray")]
async fn add_later(a: i64, b: i64) -> i64 {
    a + b
}

#[renamed_ray::actor(crate = "renamed_ray")]
struct Counter {
    n: i64,
}

#[renamed_ray::actor(crate = "renamed_ray")]
impl Counter {
    fn new(start: i64) -> Self {
        Counter { n: start }
    }

    fn checked(start: i64) -> std::result::Result<Self, String> {
        if start < 0 {
            return Err(format!("negative start {start}"));
        }
        Ok(Counter { n: start })
    }

    fn incr(&mut self, by: i64) -> i64 {
        self.n += by;
        self.n
    }

    async fn get(&self) -> i64 {
        self.n
    }

    fn fail(&self) -> std::result::Result<i64, String> {
        Err(format!("failed at {}", self.n))
    }

    #[rustyray(num_returns = 2)]
    fn halves(&self) -> (i64, i64) {
        (self.n / 2, self.n - self.n / 2)
    }
}

#[renamed_ray::test(crate = "renamed_ray", name = "renamed-test", num_cpus = 2)]
fn remote_functions() -> Result<()> {
    assert_eq!(renamed_ray::global()?.name(), "renamed-test");
    let sum: ObjectRef<i64> = add::remote(1, 2)?;
    assert_eq!(add::remote(&sum, 10)?.get()?, 13);
    let named = add::options().name("sum").num_cpus(1).remote(sum, 1)?;
    assert_eq!(named.get()?, 4);
    assert_eq!(add_later::remote(&named, 1)?.get()?, 5);

    let (n, len) = parse::remote(String::from("123"))?;
    assert_eq!((n.get()?, len.get()?), (123, 3));
    match parse::remote(String::from("x"))?.0.get() {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(task, "renamed_crate::parse");
            assert_eq!(message, "not a number: \"x\"");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    Ok(())
}

#[renamed_ray::test(crate = "renamed_ray")]
fn actors() -> Result<()> {
    let c: CounterHandle = Counter::remote(1)?;
    assert_eq!(c.incr(4)?.get()?, 5);
    assert_eq!(c.get()?.get()?, 5);
    let (a, b) = c.halves()?;
    assert_eq!((a.get()?, b.get()?), (2, 3));
    match c.fail()?.get() {
        Err(Error::TaskFailed { task, message, .. }) => {
            assert_eq!(task, "Counter.fail");
            assert_eq!(message, "failed at 5");
        }
        other => panic!("expected TaskFailed, got {other:?}"),
    }

    let named = Counter::options().name("hits").remote_checked(10)?;
    let same: CounterHandle = renamed_ray::get_actor::<Counter>("hits")?;
    assert_eq!(same.incr(1)?.get()?, 11);
    assert_eq!(named.id(), same.id());
    renamed_ray::kill(&named)?;

    let dead = Counter::remote_checked(-1)?;
    match dead.get()?.get() {
        Err(Error::ActorDied { actor, cause }) => {
            assert_eq!(actor, format!("Counter ({:?})", dead.id()));
            assert_eq!(cause, "its constructor failed: negative start -1");
        }
        other => panic!("expected ActorDied, got {other:?}"),
    }
    Ok(())
}

#[renamed_ray::test(crate = "renamed_ray", name = "renamed-async")]
async fn async_tests() -> Result<()> {
    assert_eq!(renamed_ray::global()?.name(), "renamed-async");
    assert_eq!(add::remote(2, 2)?.await?, 4);
    let c = Counter::remote(7)?;
    assert_eq!(c.incr(1)?.await?, 8);
    Ok(())
}

#[renamed_ray::main(crate = "renamed_ray", name = "renamed-sync-main")]
fn sync_main() -> Result<String> {
    Ok(renamed_ray::global()?.name().to_owned())
}

#[test]
fn main_installs_the_runtime_for_its_body_only() {
    assert_eq!(sync_main().unwrap(), "renamed-sync-main");
    assert!(!renamed_ray::is_initialized());
}
