//! [`Executor`]: the tokio executor a runtime runs its async work on.
//!
//! Either the application's own (embedded through
//! [`Config::tokio_handle`](crate::Config::tokio_handle): nothing is started)
//! or a multi-thread tokio runtime the RustyRay runtime owns, built on first
//! use, so that `init` + `shutdown` costs no thread when no async work runs.
//! Owned executor threads are named `<runtime name>-tokio`.

use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tokio::runtime::Handle;

use crate::error::{Error, Result};
use crate::sync::lock;

pub(crate) struct Executor {
    embedded: Option<Handle>,
    worker_threads: usize,
    thread_name: String,
    owned: Mutex<Owned>,
    handle: OnceLock<std::result::Result<Handle, String>>,
}

#[derive(Default)]
struct Owned {
    runtime: Option<tokio::runtime::Runtime>,
    closed: bool,
}

impl Executor {
    pub(crate) fn new(
        embedded: Option<Handle>,
        worker_threads: usize,
        thread_name: String,
    ) -> Executor {
        Executor {
            embedded,
            worker_threads,
            thread_name,
            owned: Mutex::new(Owned::default()),
            handle: OnceLock::new(),
        }
    }

    pub(crate) fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }

    /// The executor's handle, building the owned runtime on first use.
    pub(crate) fn handle(&self) -> Result<&Handle> {
        if let Some(handle) = &self.embedded {
            return Ok(handle);
        }
        self.handle
            .get_or_init(|| self.build())
            .as_ref()
            .map_err(|reason| Error::InvalidConfig {
                field: "num_cpus",
                reason: format!("the async executor could not start: {reason}"),
            })
    }

    fn build(&self) -> std::result::Result<Handle, String> {
        let mut owned = lock(&self.owned);
        if owned.closed {
            return Err("the runtime is shut down".to_string());
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.worker_threads)
            .thread_name(self.thread_name.clone())
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let handle = runtime.handle().clone();
        owned.runtime = Some(runtime);
        Ok(handle)
    }

    /// Stops the owned runtime (an embedded one is the application's to
    /// stop). Never blocks inside an async context, where tokio forbids it.
    pub(crate) fn shutdown(&self, timeout: Duration) {
        let runtime = {
            let mut owned = lock(&self.owned);
            owned.closed = true;
            owned.runtime.take()
        };
        if let Some(runtime) = runtime {
            if Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(timeout);
            }
        }
    }
}
