//! The threads calls run on.
//!
//! wasmtime runs a synchronous call on the calling thread's native stack, and the engine allows
//! the guest up to `MAX_WASM_STACK` of it (deep JS recursion needs about 16x the interpreter's
//! own stack limit before QuickJS's check fires). A caller's thread may have far less (2 MiB
//! for a default Rust thread), which would turn a deep recursion into a crash of the whole
//! process. So every call runs on one of a fixed set of worker threads with a stack that is
//! larger than the engine's limit; their number is also the number of instance slots in the
//! pooling allocator.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

/// Native stack the guest may use (the engine's `max_wasm_stack`).
pub(super) const MAX_WASM_STACK: usize = 8 << 20;
/// Stack of each worker thread: the guest's allowance plus room for the host's own frames.
const WORKER_STACK: usize = MAX_WASM_STACK + (4 << 20);

type Task = Box<dyn FnOnce() + Send>;

pub(super) struct Pool {
    tasks: Mutex<Sender<Task>>,
    workers: usize,
}

impl Pool {
    pub(super) fn start(workers: u32) -> std::io::Result<Pool> {
        let (tasks, queue) = channel::<Task>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..workers {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("skillforge-sandbox-{i}"))
                .stack_size(WORKER_STACK)
                .spawn(move || work(&queue))?;
        }
        Ok(Pool {
            tasks: Mutex::new(tasks),
            workers: workers as usize,
        })
    }

    /// How many worker threads there are.
    pub(super) fn workers(&self) -> usize {
        self.workers
    }

    /// Runs `task` on a worker and waits for its result; `None` if the task panicked (the
    /// worker survives).
    pub(super) fn run<R: Send + 'static>(
        &self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        self.spawn(task).recv().ok().flatten()
    }

    /// Starts `task` on a worker; its result arrives on the receiver, `None` if it panicked.
    pub(super) fn spawn<R: Send + 'static>(
        &self,
        task: impl FnOnce() -> R + Send + 'static,
    ) -> Receiver<Option<R>> {
        let (reply, result) = channel();
        let task: Task = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
            // The caller may have gone away; then nobody wants the result.
            let _ = reply.send(outcome.ok());
        });
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(task)
            .expect("sandbox workers live as long as the pool");
        result
    }
}

fn work(queue: &Mutex<Receiver<Task>>) {
    loop {
        // Hold the lock only while taking a task, not while running it.
        let task = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
        match task {
            Ok(task) => task(),
            Err(_) => return, // the pool was dropped
        }
    }
}
