//! Tracing of tasks: a span per attempt, named after the task.
//!
//! Every attempt of a task or actor call runs inside a `tracing` span whose
//! name is the task's (its function's path, or `Actor.method`), with the
//! fields `task_id`, `attempt`, `actor_id` (calls only) and `runtime`, so
//! that events a task emits carry it. A span's name is part of its static
//! metadata in `tracing`, so each distinct function name gets a callsite of
//! its own, made and registered the first time a subscriber wants a span of
//! it (a bounded set: function names are `&'static str`). A task given a
//! name of its own at runtime (`options().name(..)`) shares one callsite,
//! `task`, and carries that name in a `task` field.
//!
//! Tasks run on other threads than the one that submits them: a task keeps
//! the subscriber of the thread that submitted it (when there is one) and
//! runs its attempts under it, as Ray shows a worker's output at its
//! driver. With no subscriber anywhere, none of this costs more than a
//! check of `tracing`'s global level filter: no span is made, nothing is
//! captured.
//!
//! Events, all with target `rustyray::task`: `submitted` and `started`
//! (trace), `finished` and `attempt failed` (debug), `retrying` and
//! `cancelled` (info). The actor and object layers emit `restarting`
//! (warn) and `spilled` / `restored` (debug).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{LazyLock, OnceLock, RwLock};

use tracing::callsite::{Callsite, Identifier};
use tracing::field::{display, Field, FieldSet, Value};
use tracing::level_filters::LevelFilter;
use tracing::metadata::Kind;
use tracing::subscriber::{Interest, NoSubscriber};
use tracing::{Dispatch, Level, Metadata, Span};

use crate::task::spec::TaskName;
use crate::task::task::Task;

/// The target of every span and event of the task layer.
pub(crate) const TARGET: &str = "rustyray::task";

/// The level of task spans: shown by a default subscriber, so that what a
/// task logs says which task it is.
const LEVEL: Level = Level::INFO;

/// The fields of every task span, in this order.
const FIELDS: &[&str] = &["task_id", "attempt", "actor_id", "runtime", "task"];

/// The name of the callsite that tasks with a given name share.
const GIVEN: &str = "task";

/// The callsite of the spans of one task name.
struct TaskCallsite {
    meta: OnceLock<Metadata<'static>>,
    fields: OnceLock<Vec<Field>>,
    interest: AtomicU8,
}

const NEVER: u8 = 0;
const SOMETIMES: u8 = 1;
const ALWAYS: u8 = 2;

impl Callsite for TaskCallsite {
    fn set_interest(&self, interest: Interest) {
        let interest = if interest.is_never() {
            NEVER
        } else if interest.is_always() {
            ALWAYS
        } else {
            SOMETIMES
        };
        self.interest.store(interest, Ordering::Release);
    }

    fn metadata(&self) -> &Metadata<'_> {
        self.meta.get().unwrap_or(&UNSET)
    }
}

/// What a callsite reports before its own metadata is set (never seen by a
/// subscriber: a callsite is registered only once its metadata is).
struct Unset;

static UNSET_CALLSITE: Unset = Unset;

static UNSET: Metadata<'static> = Metadata::new(
    GIVEN,
    TARGET,
    LEVEL,
    None,
    None,
    None,
    FieldSet::new(FIELDS, Identifier(&UNSET_CALLSITE)),
    Kind::SPAN,
);

impl Callsite for Unset {
    fn set_interest(&self, _interest: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        &UNSET
    }
}

/// The callsites made so far, by task name (only read when a subscriber is
/// installed).
static CALLSITES: LazyLock<RwLock<HashMap<&'static str, &'static TaskCallsite>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// The callsite of the spans named `name`, made and registered once.
fn callsite(name: &'static str) -> &'static TaskCallsite {
    let found = CALLSITES
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .copied();
    if let Some(callsite) = found {
        return callsite;
    }
    let mut table = CALLSITES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(callsite) = table.get(name) {
        return callsite;
    }
    // One per distinct function name, for the life of the process, as a
    // `tracing` macro's static callsite is.
    let callsite: &'static TaskCallsite = Box::leak(Box::new(TaskCallsite {
        meta: OnceLock::new(),
        fields: OnceLock::new(),
        interest: AtomicU8::new(SOMETIMES),
    }));
    let meta = Metadata::new(
        name,
        TARGET,
        LEVEL,
        None,
        None,
        None,
        FieldSet::new(FIELDS, Identifier(callsite)),
        Kind::SPAN,
    );
    let _ = callsite.meta.set(meta);
    let _ = callsite
        .fields
        .set(callsite.metadata().fields().iter().collect());
    tracing::callsite::register(callsite);
    table.insert(name, callsite);
    callsite
}

/// Whether any subscriber anywhere may want task spans (one atomic load).
#[inline]
pub(crate) fn any_subscriber() -> bool {
    LEVEL <= LevelFilter::current()
}

/// The subscriber of the submitting thread, for the task's attempts; `None`
/// when it has none (or no subscriber exists at all).
#[inline]
pub(crate) fn capture() -> Option<Dispatch> {
    // Any level: a subscriber that keeps only warnings still gets the
    // task's, though it wants no spans.
    if LevelFilter::current() == LevelFilter::OFF {
        return None;
    }
    tracing::dispatcher::get_default(|d| (!d.is::<NoSubscriber>()).then(|| d.clone()))
}

/// Runs `f` under the subscriber `dispatch` (the task's), if any.
#[inline]
pub(crate) fn under<R>(dispatch: Option<&Dispatch>, f: impl FnOnce() -> R) -> R {
    match dispatch {
        Some(dispatch) => tracing::dispatcher::with_default(dispatch, f),
        None => f(),
    }
}

/// The span of attempt `attempt` of `task`, or a disabled span when no
/// subscriber wants it.
pub(crate) fn span(task: &Task, attempt: u32) -> Span {
    if !any_subscriber() {
        return Span::none();
    }
    let (name, given) = match &task.name {
        TaskName::Function(name) => (*name, None),
        TaskName::Given(given) => (GIVEN, Some(&**given)),
    };
    let callsite = callsite(name);
    let meta = callsite.metadata();
    let interested = match callsite.interest.load(Ordering::Acquire) {
        NEVER => false,
        ALWAYS => true,
        _ => tracing::dispatcher::get_default(|d| d.enabled(meta)),
    };
    let Some([task_id, attempt_field, actor_id, runtime, task_field]) = callsite
        .fields
        .get()
        .and_then(|f| <&[Field; 5]>::try_from(f.as_slice()).ok())
    else {
        return Span::none();
    };
    if !interested {
        return Span::none();
    }
    let id = display(task.id);
    let actor = task
        .place
        .as_ref()
        .and_then(|p| p.actor())
        .map(|a| display(a.id()));
    let runtime_name = display(task.scheduler.store().runtime_name());
    let given = given.map(display);
    let attempt = u64::from(attempt);
    let values: [(&Field, Option<&dyn Value>); 5] = [
        (task_id, Some(&id)),
        (attempt_field, Some(&attempt)),
        (actor_id, actor.as_ref().map(|a| a as &dyn Value)),
        (runtime, Some(&runtime_name)),
        (task_field, given.as_ref().map(|g| g as &dyn Value)),
    ];
    let values = meta.fields().value_set(&values);
    // A child of the span the submitter was in, wherever it runs; with no
    // submitter's context, of the span current here.
    match task.watch.traced() {
        Some(traced) => Span::child_of(&traced.parent, meta, &values),
        None => Span::new(meta, &values),
    }
}

/// Runs one attempt of `task` on this thread: under the submitter's
/// subscriber, inside the attempt's span, with its start recorded and
/// `started` / `finished` / `attempt failed` events around it.
pub(crate) fn attempt<R>(
    task: &Task,
    attempt: u32,
    run: impl FnOnce() -> Result<R, crate::task::task::Failure>,
) -> Result<R, crate::task::task::Failure> {
    task.scheduler.history().attempt_starts(task, attempt);
    if task.watch.dispatch().is_none() && !any_subscriber() {
        return run(); // nobody listens: no span, no event
    }
    under(task.watch.dispatch(), || {
        let span = span(task, attempt);
        let _entered = span.enter();
        tracing::trace!(target: TARGET, "started");
        let outcome = run();
        match &outcome {
            Ok(_) => tracing::debug!(target: TARGET, "finished"),
            Err(failure) => {
                tracing::debug!(target: TARGET, error = %failure.error, "attempt failed")
            }
        }
        outcome
    })
}

/// The `retrying` event of a task whose attempt `attempt` failed with
/// `error`.
pub(crate) fn retrying(task: &Task, attempt: u32, error: &crate::error::Error) {
    under(task.watch.dispatch(), || {
        tracing::info!(
            target: TARGET,
            task_id = %task.id,
            task = %task.name,
            attempt,
            %error,
            "retrying"
        );
    });
}
