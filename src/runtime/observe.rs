//! What a runtime shows of itself: its tasks, actors and objects (the
//! state API), a timeline of the tasks that ran, and its metrics.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::handle::Runtime;
use crate::actor::state::ActorState;
use crate::actor::state::ActorStatus;
use crate::error::{Error, Result};
use crate::object::state::ObjectState;
use crate::task::history::{live_tasks, thread_name, Ended, TaskState, TaskStatus};

impl Runtime {
    /// See [`state::list_tasks`](crate::state::list_tasks).
    pub fn list_tasks(&self) -> Vec<TaskState> {
        let local = self.engine().local();
        local.scheduler().history().list(local.store())
    }

    /// See [`state::list_actors`](crate::state::list_actors).
    pub fn list_actors(&self) -> Vec<ActorState> {
        self.engine().local().actors().list()
    }

    /// See [`state::list_objects`](crate::state::list_objects).
    pub fn list_objects(&self) -> Vec<ObjectState> {
        self.engine().local().store().list_objects()
    }

    /// See [`timeline`](crate::timeline).
    pub fn timeline(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = self.timeline_json();
        let io = |err: std::io::Error| Error::Io {
            what: format!("writing the timeline to {}", path.display()),
            reason: err.to_string(),
        };
        let mut file = std::fs::File::create(path).map_err(io)?;
        file.write_all(json.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Reports the runtime's metrics through the [`metrics`] facade, to
    /// the recorder the program installed (none: this does nothing).
    ///
    /// The figures are read from what the runtime keeps anyway, at the
    /// moment of the call, so that running tasks costs nothing more: call
    /// it when the exporter is scraped (as `examples/metrics.rs` does) or
    /// every few seconds. Counters are reported with their absolute values
    /// and every series has a `runtime` label (the runtime's name):
    ///
    /// | metric | kind | labels |
    /// |---|---|---|
    /// | `rustyray_tasks_submitted_total` | counter | `function`: tasks that ended or are live now |
    /// | `rustyray_tasks_finished_total` | counter | `function` |
    /// | `rustyray_tasks_failed_total` | counter | `function` |
    /// | `rustyray_tasks` | gauge | `state`: `waiting_for_dependencies`, `queued`, `running` |
    /// | `rustyray_object_store_bytes` | gauge | `location`: `memory`, `disk` |
    /// | `rustyray_object_store_objects` | gauge | `location`: `memory`, `disk` |
    /// | `rustyray_objects_spilled_total` | counter | |
    /// | `rustyray_objects_restored_total` | counter | |
    /// | `rustyray_actors` | gauge | `state`: `pending`, `alive`, `restarting`, `dead` (dead: the newest 1,000) |
    /// | `rustyray_actor_restarts_total` | counter | |
    ///
    /// `function` is the task's name (its function's path, `Actor.method`,
    /// or the name it was given); past 1,024 distinct given names, further
    /// ones are counted under `(other names)`. A live task whose refs were
    /// all dropped counts once it ends.
    ///
    /// ```
    /// let _rt = rustyray::init(rustyray::Config::default())?;
    /// // With no recorder installed, nothing is recorded and nothing fails.
    /// rustyray::record_metrics()?;
    /// # Ok::<(), rustyray::Error>(())
    /// ```
    pub fn record_metrics(&self) {
        let local = self.engine().local();
        let runtime = self.name().to_string();

        // Live tasks by name and by state.
        let mut live_by_name: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_state = [0u64; 3];
        for task in live_tasks(local.store()) {
            let Some(status) = task.status() else {
                continue;
            };
            *live_by_name.entry(task.name.to_string()).or_default() += 1;
            match status {
                TaskStatus::WaitingForDependencies => by_state[0] += 1,
                TaskStatus::Queued => by_state[1] += 1,
                _ => by_state[2] += 1,
            }
        }
        metrics::describe_counter!(
            "rustyray_tasks_submitted_total",
            "Tasks and actor calls submitted (those that ended or are live)"
        );
        metrics::describe_counter!(
            "rustyray_tasks_finished_total",
            "Tasks and actor calls that ended with their results"
        );
        metrics::describe_counter!(
            "rustyray_tasks_failed_total",
            "Tasks and actor calls that ended with an error"
        );
        let mut names: BTreeMap<String, (u64, u64)> = local
            .scheduler()
            .history()
            .counts()
            .into_iter()
            .map(|(name, c)| (name, (c.finished, c.failed)))
            .collect();
        for name in live_by_name.keys() {
            names.entry(name.clone()).or_default();
        }
        for (name, (finished, failed)) in names {
            let live = live_by_name.get(&name).copied().unwrap_or(0);
            let labels = [("runtime", runtime.clone()), ("function", name)];
            metrics::counter!("rustyray_tasks_submitted_total", &labels)
                .absolute(finished + failed + live);
            metrics::counter!("rustyray_tasks_finished_total", &labels).absolute(finished);
            metrics::counter!("rustyray_tasks_failed_total", &labels).absolute(failed);
        }
        metrics::describe_gauge!("rustyray_tasks", "Live tasks and actor calls by state");
        for (state, n) in ["waiting_for_dependencies", "queued", "running"]
            .into_iter()
            .zip(by_state)
        {
            metrics::gauge!("rustyray_tasks", "runtime" => runtime.clone(), "state" => state)
                .set(n as f64);
        }

        let memory = local.store().memory();
        metrics::describe_gauge!(
            "rustyray_object_store_bytes",
            metrics::Unit::Bytes,
            "Bytes of objects in the store (serialized size), by location"
        );
        metrics::describe_gauge!(
            "rustyray_object_store_objects",
            "Objects in the store, by location"
        );
        for (location, bytes, objects) in [
            ("memory", memory.bytes_in_memory, memory.objects_in_memory),
            ("disk", memory.bytes_spilled, memory.objects_spilled),
        ] {
            metrics::gauge!("rustyray_object_store_bytes", "runtime" => runtime.clone(), "location" => location)
                .set(bytes as f64);
            metrics::gauge!("rustyray_object_store_objects", "runtime" => runtime.clone(), "location" => location)
                .set(objects as f64);
        }
        metrics::describe_counter!(
            "rustyray_objects_spilled_total",
            "Objects moved (or written) to disk for want of memory"
        );
        metrics::describe_counter!(
            "rustyray_objects_restored_total",
            "Spilled objects read back into memory"
        );
        metrics::counter!("rustyray_objects_spilled_total", "runtime" => runtime.clone())
            .absolute(memory.spilled_total);
        metrics::counter!("rustyray_objects_restored_total", "runtime" => runtime.clone())
            .absolute(memory.restored_total);

        let actors = local.actors().list();
        metrics::describe_gauge!("rustyray_actors", "Actors by state");
        for (state, status) in [
            ("pending", ActorStatus::Pending),
            ("alive", ActorStatus::Alive),
            ("restarting", ActorStatus::Restarting),
            ("dead", ActorStatus::Dead),
        ] {
            let n = actors.iter().filter(|a| a.status == status).count();
            metrics::gauge!("rustyray_actors", "runtime" => runtime.clone(), "state" => state)
                .set(n as f64);
        }
        metrics::describe_counter!(
            "rustyray_actor_restarts_total",
            "Actor restarts after a crash"
        );
        metrics::counter!("rustyray_actor_restarts_total", "runtime" => runtime)
            .absolute(local.actors().restarts());
    }

    /// The timeline as Chrome trace-event JSON.
    pub(crate) fn timeline_json(&self) -> String {
        let ended = self.engine().local().scheduler().history().entries();
        let pid = std::process::id();
        let mut events: Vec<String> = Vec::with_capacity(ended.len() + 8);
        events.push(format!(
            r#"{{"name":"process_name","ph":"M","pid":{pid},"tid":0,"args":{{"name":{}}}}}"#,
            json_string(self.name())
        ));
        let mut threads = BTreeMap::new();
        for task in ended.iter().filter(|t| t.started > 0) {
            threads.entry(task.thread).or_insert_with(|| {
                thread_name(task.thread).unwrap_or_else(|| format!("thread {}", task.thread))
            });
            events.push(complete_event(task, self.id(), pid));
        }
        for (tid, name) in threads {
            events.push(format!(
                r#"{{"name":"thread_name","ph":"M","pid":{pid},"tid":{tid},"args":{{"name":{}}}}}"#,
                json_string(&name)
            ));
        }
        let mut json = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        json.push_str(&events.join(",\n"));
        json.push_str("\n]}\n");
        json
    }
}

/// The complete ("X") event of a task that ran: from its first attempt's
/// start to its end, in microseconds since the runtime started.
fn complete_event(task: &Ended, runtime: crate::RuntimeId, pid: u32) -> String {
    let start = task.started - 1;
    let dur = task.ended.saturating_sub(start);
    let (cat, actor) = match task.actor(runtime) {
        Some(actor) => ("actor_call", format!(r#","actor_id":"{actor}""#)),
        None => ("task", String::new()),
    };
    let status = if task.failed { "failed" } else { "finished" };
    let mut event = String::with_capacity(200);
    let _ = write!(
        event,
        r#"{{"name":{},"cat":"{cat}","ph":"X","ts":{}.{:03},"dur":{}.{:03},"pid":{pid},"tid":{},"args":{{"task_id":"{}","attempt":{},"status":"{status}"{actor}}}}}"#,
        json_string(&task.name),
        start / 1000,
        start % 1000,
        dur / 1000,
        dur % 1000,
        task.thread,
        task.id(runtime),
        task.attempt,
    );
    event
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::json_string;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(json_string("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(json_string("Counter.incr"), "\"Counter.incr\"");
    }
}
