//! Bringing clients up: guest sign-in, WebSocket, Socket.IO connect and
//! join, with a bounded number in flight.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rand::Rng;

use crate::http::GuestClient;
use crate::report::count;
use crate::sio::{Ws, open_session};
use crate::target::Target;

/// How long one client may take to come up before it counts as a timeout.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A random tag for one run, so that guest names and client ids never
/// collide with an earlier run against the same server.
pub fn run_tag() -> String {
    format!("{:06x}", rand::thread_rng().gen_range(0..0x100_0000u32))
}

/// Guest name of client `idx` in run `run`.
pub fn guest_name(run: &str, idx: usize) -> String {
    format!("b{run}_{idx}")
}

pub fn room_name(room: usize) -> String {
    format!("r{room}")
}

pub struct Setup {
    pub target: Rc<Target>,
    pub run: String,
    pub rooms: usize,
    /// WebSocket read buffer per connection.
    pub read_buffer: usize,
}

/// Brings clients `0..n` up, `concurrency` at a time, each joining room
/// `r{idx % rooms}` on node `Target::node_for(idx, rooms)` (it signs in
/// there too). `on_ready(idx, ws, took)` is called for each client
/// that is in; the failures are returned counted by kind.
pub async fn establish<F>(
    setup: Rc<Setup>,
    n: usize,
    concurrency: usize,
    on_ready: F,
) -> BTreeMap<String, u64>
where
    F: Fn(usize, Ws, Duration) + 'static,
{
    let next = Rc::new(Cell::new(0usize));
    let errors = Rc::new(RefCell::new(BTreeMap::new()));
    let on_ready = Rc::new(on_ready);
    let mut workers = Vec::new();
    for w in 0..concurrency.clamp(1, n.max(1)) {
        let (next, errors, on_ready, setup) = (
            next.clone(),
            errors.clone(),
            on_ready.clone(),
            setup.clone(),
        );
        workers.push(tokio::task::spawn_local(async move {
            let mut http = GuestClient::new(setup.target.clone(), setup.target.source(w));
            loop {
                let idx = next.get();
                if idx >= n {
                    break;
                }
                next.set(idx + 1);
                let started = Instant::now();
                let node = setup.target.node_for(idx, setup.rooms);
                let attempt = async {
                    let token = http.sign_in(node, &guest_name(&setup.run, idx)).await?;
                    open_session(
                        setup.target.node(node),
                        setup.target.source(idx),
                        &token,
                        &room_name(idx % setup.rooms),
                        setup.read_buffer,
                    )
                    .await
                };
                match tokio::time::timeout(SETUP_TIMEOUT, attempt).await {
                    Ok(Ok(ws)) => on_ready(idx, ws, started.elapsed()),
                    Ok(Err(failure)) => {
                        if errors.borrow().is_empty() {
                            eprintln!("banter-bench: client {idx}: {failure}");
                        }
                        count(&mut errors.borrow_mut(), &failure.kind, 1);
                    }
                    Err(_) => count(&mut errors.borrow_mut(), "timeout", 1),
                }
            }
        }));
    }
    for w in workers {
        if w.await.is_err() {
            count(&mut errors.borrow_mut(), "worker_panicked", 1);
        }
    }
    errors.take()
}
