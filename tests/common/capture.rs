//! A `tracing` subscriber that records spans and events, for tests that
//! install it on their own thread only (`tracing::subscriber::with_default`).
//! A test file includes it with `#[path = "common/capture.rs"] mod capture;`.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One span as it was opened.
#[derive(Clone, Debug)]
pub struct SpanRecord {
    pub name: &'static str,
    pub meta: &'static Metadata<'static>,
    pub target: String,
    pub level: Level,
    pub fields: BTreeMap<String, String>,
    pub parent: Option<u64>,
}

/// One event, with the spans it was emitted in (innermost first).
#[derive(Clone, Debug)]
pub struct EventRecord {
    pub target: String,
    pub level: Level,
    pub fields: BTreeMap<String, String>,
    pub spans: Vec<SpanRecord>,
}

impl EventRecord {
    /// The event's message.
    pub fn message(&self) -> &str {
        self.fields.get("message").map_or("", String::as_str)
    }
}

#[derive(Default)]
struct Inner {
    spans: HashMap<u64, SpanRecord>,
    events: Vec<EventRecord>,
    /// The entered spans of each thread, innermost last.
    stacks: HashMap<ThreadId, Vec<u64>>,
}

/// Records every span and event it sees; clones share the record.
#[derive(Clone, Default)]
pub struct Capture {
    inner: Arc<Mutex<Inner>>,
    next: Arc<AtomicU64>,
    /// Run (outside the record's lock) after recording an event with this
    /// message: lets a test hold the emitting thread there.
    pause: Option<(&'static str, Pause)>,
}

/// What a [`Capture::pausing_at`] runs.
type Pause = Arc<dyn Fn() + Send + Sync>;

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }
}

impl Capture {
    /// A capture that runs `wait` on the emitting thread after each event
    /// whose message is `message`.
    pub fn pausing_at(message: &'static str, wait: impl Fn() + Send + Sync + 'static) -> Capture {
        Capture {
            pause: Some((message, Arc::new(wait))),
            ..Capture::default()
        }
    }

    /// The events recorded so far.
    pub fn events(&self) -> Vec<EventRecord> {
        lock(&self.inner).events.clone()
    }

    /// The spans opened so far, in no particular order.
    pub fn spans(&self) -> Vec<SpanRecord> {
        lock(&self.inner).spans.values().cloned().collect()
    }

    fn chain(inner: &Inner, mut id: Option<u64>) -> Vec<SpanRecord> {
        let mut chain = Vec::new();
        while let Some(span) = id.and_then(|i| inner.spans.get(&i)) {
            chain.push(span.clone());
            id = span.parent;
        }
        chain
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        let mut inner = lock(&self.inner);
        let parent = if span.is_root() {
            None
        } else if let Some(parent) = span.parent() {
            Some(parent.into_u64())
        } else {
            let thread = std::thread::current().id();
            inner.stacks.get(&thread).and_then(|s| s.last().copied())
        };
        let meta = span.metadata();
        inner.spans.insert(
            id,
            SpanRecord {
                name: meta.name(),
                meta,
                target: meta.target().to_string(),
                level: *meta.level(),
                fields,
                parent,
            },
        );
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut inner = lock(&self.inner);
        if let Some(record) = inner.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut record.fields));
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let mut inner = lock(&self.inner);
        let current = if event.is_root() {
            None
        } else if let Some(parent) = event.parent() {
            Some(parent.into_u64())
        } else {
            let thread = std::thread::current().id();
            inner.stacks.get(&thread).and_then(|s| s.last().copied())
        };
        let spans = Self::chain(&inner, current);
        let meta = event.metadata();
        let record = EventRecord {
            target: meta.target().to_string(),
            level: *meta.level(),
            fields,
            spans,
        };
        let pause = match &self.pause {
            Some((message, wait)) if record.message() == *message => Some(Arc::clone(wait)),
            _ => None,
        };
        inner.events.push(record);
        drop(inner);
        if let Some(wait) = pause {
            wait();
        }
    }

    fn current_span(&self) -> tracing_core::span::Current {
        let thread = std::thread::current().id();
        let inner = lock(&self.inner);
        let current = inner
            .stacks
            .get(&thread)
            .and_then(|s| s.last())
            .and_then(|id| inner.spans.get(id).map(|span| (*id, span.meta)));
        match current {
            Some((id, meta)) => tracing_core::span::Current::new(Id::from_u64(id), meta),
            None => tracing_core::span::Current::none(),
        }
    }

    fn enter(&self, span: &Id) {
        let thread = std::thread::current().id();
        lock(&self.inner)
            .stacks
            .entry(thread)
            .or_default()
            .push(span.into_u64());
    }

    fn exit(&self, span: &Id) {
        let thread = std::thread::current().id();
        let mut inner = lock(&self.inner);
        if let Some(stack) = inner.stacks.get_mut(&thread) {
            if let Some(i) = stack.iter().rposition(|s| *s == span.into_u64()) {
                stack.remove(i);
            }
        }
    }
}
