//! The epoch ticker and the call slots.
//!
//! Wall-clock limits use wasmtime's epoch interruption: a background thread bumps the
//! engine's epoch every [`TICK`] while at least one call is running, and each store's epoch
//! callback compares a real `Instant` with its deadline (counting ticks would drift when the
//! machine is loaded). The same structure bounds how many calls run at once, because the
//! pooling allocator has a fixed number of instance slots.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use wasmtime::{Engine, EngineWeak};

/// How often the epoch advances while calls are running.
pub(super) const TICK: Duration = Duration::from_millis(1);

pub(super) struct Ticker {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    slots: u32,
}

struct State {
    running: u32,
    stopped: bool,
}

/// A running call's slot; released on drop.
pub(super) struct Slot {
    shared: Arc<Shared>,
}

impl Ticker {
    pub(super) fn start(engine: &Engine, slots: u32) -> Ticker {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                running: 0,
                stopped: false,
            }),
            changed: Condvar::new(),
            slots,
        });
        let thread_shared = Arc::clone(&shared);
        let engine = engine.weak();
        std::thread::Builder::new()
            .name("skillforge-epoch".into())
            .spawn(move || tick(&thread_shared, &engine))
            .expect("spawning the epoch thread");
        Ticker { shared }
    }

    /// Waits for a free slot and marks a call as running.
    pub(super) fn acquire(&self) -> Slot {
        let mut state = lock(&self.shared.state);
        while state.running >= self.shared.slots {
            state = self
                .shared
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
        state.running += 1;
        self.shared.changed.notify_all();
        Slot {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        lock(&self.shared.state).stopped = true;
        self.shared.changed.notify_all();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.shared.state).running -= 1;
        self.shared.changed.notify_all();
    }
}

fn tick(shared: &Shared, engine: &EngineWeak) {
    loop {
        {
            let mut state = lock(&shared.state);
            while state.running == 0 && !state.stopped {
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|e| e.into_inner());
            }
            if state.stopped {
                return;
            }
        }
        std::thread::sleep(TICK);
        match engine.upgrade() {
            Some(engine) => engine.increment_epoch(),
            None => return,
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}
