//! Route searches run ahead on planner threads while the world's loop goes on: the searches a
//! payment about to start makes as it starts (the workload's and the scenario's payment
//! list's: its first plan and, where that covers only part of the amount, its next parts'),
//! and the retries planned while a payer handles a `revoke_and_ack` that fails one of its
//! attempts for good.
//!
//! The route search is the simulator's inner loop. With more than one thread, the world keeps
//! the workload's next arrivals drawn ahead (in the order and with the calls the one-at-a-time
//! loop makes, so the workload's stream is drawn alike) and the payment list's next entries in
//! view, and posts a job for each: plan this payment, due then. When a node sends a
//! `revoke_and_ack` that fails one of its peer's payments' HTLCs for good (asked of the peer,
//! [`Node::may_plan_on`]), it posts a job too: handle it on a copy of the peer, due when it
//! arrives ([`Node::speculate`]). Planner threads take the jobs due soonest first, with the
//! node locked ([`Nodes`]), while the loop handles other nodes. When a payment or the message
//! is due, the world takes what its job gave if it is done, waits for it if a planner is on it
//! (doing the waiting jobs due soonest meanwhile), or withdraws the job and lets the node plan
//! itself if no planner took it yet. A node takes a plan only if it is exactly the answer it
//! would compute then: for the same payment or message at the same instant, and no input taken
//! by the node since (see `node_core::node::ahead`). So results, trace and every output are the
//! same bytes whatever the thread count and however the threads are scheduled; threads only
//! change how long a run takes. With one thread nothing is drawn, copied or planned ahead.
//!
//! Nothing else runs in parallel: deliveries (but for the copies' handling of a message, whose
//! only use is their plans), timers and the commitment dance stay on the world's one loop.

use crate::nodes::Nodes;
use crate::scenario::PaymentListDef;
use crate::workload::{Arrival, Workload};
use node_core::msg::Message;
use node_core::node::{PlannedPayment, Speculation};
use node_core::router::RouterConfig;
use node_core::{NodeId, SimTime};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Payments kept in view ahead per planner thread: enough that a planner always has a job,
/// few enough that plans rarely go stale (a payer that took an input since searches again).
/// `mainnet_100k` with the lnd preset on 2 threads: 32 in view, 97.6% of plans taken and 0.92
/// of the wall time with 8 (99.0% taken; six alternating pairs, benches/README.md); 128 gave
/// nothing more.
const PER_THREAD: usize = 32;

/// The most payments kept in view, however many threads: further ahead, plans mostly go stale.
const MAX_IN_VIEW: usize = 64;

/// A job: plan the payment of `amount_msat` from `from` to `to`, due `at`.
#[derive(Clone, Copy, Debug)]
struct Job {
    at: SimTime,
    from: NodeId,
    to: NodeId,
    amount_msat: u64,
    router: Option<RouterConfig>,
}

/// A job of either kind: a payment's first plan, or a message handled ahead on a copy of the
/// node it goes to, for the plans that handling it makes ([`Node::speculate`]).
#[derive(Clone, Debug)]
enum Work {
    Pay(Job),
    Handle { node: NodeId, from: NodeId, at: SimTime, msg: Message },
}

/// What a job gave.
enum Done {
    Pay(Option<PlannedPayment>),
    Handle(Option<Speculation>),
}

/// The jobs, shared by the world and the planners.
#[derive(Default)]
struct Jobs {
    /// Posted, not taken yet, oldest first.
    waiting: VecDeque<(u64, Work)>,
    /// Being planned.
    running: BTreeSet<u64>,
    /// Planned, not collected yet.
    done: BTreeMap<u64, Done>,
    /// Running, but what they give is no longer wanted.
    unwanted: BTreeSet<u64>,
    /// The world is done: planners stop.
    stop: bool,
}

impl Work {
    /// When what it plans for is due.
    fn due(&self) -> SimTime {
        match self {
            Work::Pay(job) => job.at,
            Work::Handle { at, .. } => *at,
        }
    }
}

impl Jobs {
    /// Takes the waiting job due soonest (the oldest of those due alike): a message handled
    /// ahead is due within a link's latency, payments in view up to seconds later.
    fn take_soonest(&mut self) -> Option<(u64, Work)> {
        let soonest = (0..self.waiting.len()).min_by_key(|&i| {
            let (id, work) = &self.waiting[i];
            (work.due(), *id)
        })?;
        self.waiting.remove(soonest)
    }
}

/// The job board: the jobs, a signal to the planners (a job posted, or stop) and one to the
/// world (a job done), and the nodes to plan on.
struct Board {
    jobs: Mutex<Jobs>,
    posted: Condvar,
    finished: Condvar,
    nodes: Nodes,
}

impl Board {
    fn jobs(&self) -> std::sync::MutexGuard<'_, Jobs> {
        self.jobs.lock().expect("invariant: no thread panics holding the job board")
    }

    /// What `work` gives, made now.
    fn plan(&self, work: &Work) -> Done {
        match work {
            Work::Pay(job) => {
                let terms = self.nodes.get(job.to).invoice_terms(job.amount_msat);
                let payer = self.nodes.get(job.from);
                Done::Pay(payer.plan_ahead(job.at, job.to, job.amount_msat, terms, job.router))
            }
            Work::Handle { node, from, at, msg } => {
                Done::Handle(self.nodes.get(*node).speculate(*at, *from, msg))
            }
        }
    }

    /// What `work` gives, or nothing if it panics: the panic may come from a state the node
    /// never reaches (it takes an input first), so it must not end a run that one thread would
    /// finish; if the node does reach it, its own search or handling panics on the loop (the
    /// message is on stderr either way).
    fn plan_caught(&self, work: &Work) -> Done {
        let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.plan(work)));
        done.unwrap_or(match work {
            Work::Pay(_) => Done::Pay(None),
            Work::Handle { .. } => Done::Handle(None),
        })
    }

    /// Posts the plan of running job `id`.
    fn finish(&self, id: u64, planned: Done) {
        let mut jobs = self.jobs();
        jobs.running.remove(&id);
        if !jobs.unwanted.remove(&id) {
            jobs.done.insert(id, planned);
        }
        self.finished.notify_all();
    }

    /// A planner: takes the waiting job due soonest, does it, posts what it gave; until told to
    /// stop.
    fn plan_until_stopped(&self) {
        loop {
            let (id, job) = {
                let mut jobs = self.jobs();
                loop {
                    if jobs.stop {
                        return;
                    }
                    if let Some((id, job)) = jobs.take_soonest() {
                        jobs.running.insert(id);
                        break (id, job);
                    }
                    jobs = self.posted.wait(jobs).expect("invariant: the board is not poisoned");
                }
            };
            self.finish(id, self.plan_caught(&job));
        }
    }
}

/// A workload arrival drawn ahead.
pub(super) struct Upcoming {
    /// The arrival.
    pub arrival: Arrival,
    /// When the next one comes (what the workload answered right after drawing this one).
    pub next_at: Option<SimTime>,
    /// Its payment's job.
    job: Option<u64>,
}

/// The payments in view ahead, their jobs, and the planner threads.
pub(super) struct Ahead {
    /// How many payments to keep in view after the one due (with planners).
    depth: usize,
    /// The workload's arrivals drawn ahead, oldest first.
    upcoming: VecDeque<Upcoming>,
    /// When the next arrival to draw comes (`None`: no more).
    draw_at: Option<SimTime>,
    /// The payment list's entries in view: (index, job), oldest first.
    listed: VecDeque<(usize, Option<u64>)>,
    /// The next entry of the list to bring into view, and when it is due.
    list_next: (usize, SimTime),
    /// Messages handled ahead: their jobs, by (receiver, due, sender).
    handled: BTreeMap<(NodeId, SimTime, NodeId), u64>,
    /// How many messages were handed over with the plans of a copy that handled them ahead:
    /// it depends on the threads' timing, so it must reach no output.
    pub offered: u64,
    /// A job not taken yet when it is wanted is waited for (done by the world itself)
    /// instead of withdrawn: for a test that every job gives what it would.
    patient: bool,
    board: Option<Arc<Board>>,
    planners: Vec<JoinHandle<()>>,
    next_id: u64,
}

impl Ahead {
    /// Planning on `threads` threads in all (the world's own and `threads - 1` planners); 1:
    /// nothing is drawn or planned ahead.
    pub fn new(threads: usize, nodes: &Nodes) -> Ahead {
        let threads = threads.max(1);
        let mut ahead = Ahead {
            depth: 1,
            upcoming: VecDeque::new(),
            draw_at: None,
            listed: VecDeque::new(),
            list_next: (0, SimTime::ZERO),
            handled: BTreeMap::new(),
            offered: 0,
            patient: false,
            board: None,
            planners: Vec::new(),
            next_id: 0,
        };
        if threads > 1 {
            let board = Arc::new(Board {
                jobs: Mutex::new(Jobs::default()),
                posted: Condvar::new(),
                finished: Condvar::new(),
                nodes: nodes.clone(),
            });
            ahead.planners = (1..threads)
                .map(|_| {
                    let board = board.clone();
                    // Thread timing decides only which plans are ready when their payments
                    // start, never what a payer does: a plan is taken only if it is the
                    // payer's own search at that instant (see the module's documentation).
                    #[allow(clippy::disallowed_methods)]
                    std::thread::spawn(move || board.plan_until_stopped())
                })
                .collect();
            ahead.depth = ((threads - 1) * PER_THREAD).min(MAX_IN_VIEW);
            ahead.board = Some(board);
        }
        ahead
    }

    /// Posts a job, if there are planners; returns its id.
    fn post(&mut self, job: Work) -> Option<u64> {
        let board = self.board.as_ref()?;
        let id = self.next_id;
        self.next_id += 1;
        board.jobs().waiting.push_back((id, job));
        board.posted.notify_one();
        Some(id)
    }

    /// What job `id` gave: made, or waited for if a planner is making it (doing the waiting
    /// jobs due soonest meanwhile); `None` if no planner took it yet (it is withdrawn: the node
    /// plans itself).
    fn collect(&mut self, id: Option<u64>) -> Option<Done> {
        let (board, id) = (self.board.as_ref()?, id?);
        let mut jobs = board.jobs();
        loop {
            if let Some(planned) = jobs.done.remove(&id) {
                return Some(planned);
            }
            let waiting = !jobs.running.contains(&id);
            if waiting && !self.patient {
                jobs.waiting.retain(|&(waiting, _)| waiting != id);
                return None;
            }
            match jobs.take_soonest() {
                Some((other, job)) => {
                    jobs.running.insert(other);
                    drop(jobs);
                    board.finish(other, board.plan_caught(&job));
                    jobs = board.jobs();
                }
                None => {
                    jobs = board.finished.wait(jobs).expect("invariant: the board is not poisoned");
                }
            }
        }
    }

    /// The workload's arrival due at `now`, with its plan if one was made; the arrivals after
    /// it are drawn (and posted) to keep `depth` in view.
    pub fn next(
        &mut self,
        now: SimTime,
        workload: &mut Workload,
    ) -> (Upcoming, Option<PlannedPayment>) {
        if self.upcoming.is_empty() {
            self.draw_at = Some(now);
        }
        // This one and, with planners, `depth` after it.
        let in_view = if self.board.is_some() { self.depth + 1 } else { 1 };
        while self.upcoming.len() < in_view {
            let Some(at) = self.draw_at else { break };
            let arrival = workload.draw();
            let next_at = workload.next_arrival(at);
            let job = match arrival {
                Arrival::Pay { from, to, amount_msat, router } if from != to => {
                    self.post(Work::Pay(Job { at, from, to, amount_msat, router }))
                }
                _ => None,
            };
            self.upcoming.push_back(Upcoming { arrival, next_at, job });
            self.draw_at = next_at;
        }
        let upcoming = self.upcoming.pop_front().expect("invariant: an arrival is due");
        let planned = self.collect_plan(upcoming.job);
        (upcoming, planned)
    }

    /// The plan of payment `index` of `list`, due `now`, if one was made; the entries after it
    /// are posted to keep `depth` in view, each due when the world will start it (its own time,
    /// or the one before it if later).
    pub fn list_plan(
        &mut self,
        index: usize,
        now: SimTime,
        list: &PaymentListDef,
    ) -> Option<PlannedPayment> {
        self.board.as_ref()?;
        // The world starts the list's payments in order, each once: what is in view starts
        // with this one, unless nothing is.
        if self.listed.front().is_none_or(|&(i, _)| i != index) {
            for (_, job) in std::mem::take(&mut self.listed) {
                self.collect(job);
            }
            self.list_next = (index, now);
        }
        let payments = &list.payments.payments;
        while self.listed.len() <= self.depth && self.list_next.0 < payments.len() {
            let (i, due) = self.list_next;
            let (own, from, to, amount_msat) = payments[i];
            let at = due.max(own);
            let router = match list.routers.len() {
                0 => None,
                n => Some(list.routers[i % n]),
            };
            let job = self.post(Work::Pay(Job { at, from, to, amount_msat, router }));
            self.listed.push_back((i, job));
            self.list_next = (i + 1, at);
        }
        match self.listed.pop_front() {
            Some((i, job)) if i == index => self.collect_plan(job),
            _ => None,
        }
    }

    /// [`Ahead::collect`] for a payment's plan.
    fn collect_plan(&mut self, id: Option<u64>) -> Option<PlannedPayment> {
        match self.collect(id)? {
            Done::Pay(planned) => planned,
            Done::Handle(_) => None,
        }
    }

    /// Posts, if there are planners, a job handling `msg` from `from` to `to`, due `at`, ahead
    /// on a copy of `to` ([`Node::speculate`]); only a `revoke_and_ack` is worth it (it may fail
    /// one of the node's payments' HTLCs for good, whose retry it then plans).
    pub fn handle_ahead(&mut self, to: NodeId, from: NodeId, at: SimTime, msg: &Message) {
        let Some(board) = self.board.as_ref() else { return };
        // Most are not worth it (half a million `revoke_and_ack`s on `mainnet_100k`, 14,000
        // failing a payment's HTLC): asked here, before a job is posted.
        if !matches!(msg, Message::RevokeAndAck(_)) || !board.nodes.get(to).may_plan_on(from, msg) {
            return;
        }
        let key = (to, at, from);
        if self.handled.contains_key(&key) {
            return; // two messages due alike: only the first is handled ahead
        }
        if let Some(job) = self.post(Work::Handle { node: to, from, at, msg: msg.clone() }) {
            self.handled.insert(key, job);
        }
    }

    /// Forgets the message from `from` to `to` due `at` (it was lost): its job, if it was
    /// posted, is withdrawn or, if running, its result dropped when done.
    pub fn forget(&mut self, to: NodeId, from: NodeId, at: SimTime) {
        let (Some(board), Some(id)) = (self.board.as_ref(), self.handled.remove(&(to, at, from)))
        else {
            return;
        };
        let mut jobs = board.jobs();
        jobs.waiting.retain(|&(waiting, _)| waiting != id);
        if jobs.done.remove(&id).is_none() && jobs.running.contains(&id) {
            jobs.unwanted.insert(id);
        }
    }

    /// What handling the message from `from` to `to` due `at` ahead gave, if it was posted (a
    /// planner is waited for, one not taken yet is withdrawn).
    pub fn handled(&mut self, to: NodeId, from: NodeId, at: SimTime) -> Option<Speculation> {
        let job = self.handled.remove(&(to, at, from));
        match self.collect(job)? {
            Done::Handle(speculation) => speculation,
            Done::Pay(_) => None,
        }
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        if let Some(board) = self.board.take() {
            board.jobs().stop = true;
            board.posted.notify_all();
        }
        for planner in self.planners.drain(..) {
            // A planner that panicked has said so on stderr; the run's outputs do not depend on it.
            let _ = planner.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::Scenario;
    use crate::trace::{TraceHeader, TraceLevel, TraceWriter};
    use crate::world::World;

    /// `scenarios/routers.ron` (eight routers taking turns, payments failing on the way) on two
    /// threads with every job waited for: copies of payers plan retries, and the payers take
    /// their plans (a debug build checks each), with the same outcome as on one thread.
    #[test]
    fn retries_are_planned_on_copies_and_taken() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/routers.ron");
        let scenario = Scenario::load(std::path::Path::new(path)).expect("a bundled scenario");
        let run = |threads: usize, patient: bool| {
            let header = TraceHeader {
                scenario: scenario.name.clone(),
                scenario_sha256: scenario.file_sha256,
                seed: scenario.seed,
                level: TraceLevel::Off,
                nodes: scenario.nodes.iter().map(|n| n.name.clone()).collect(),
            };
            let trace = TraceWriter::new(Box::new(std::io::sink()), &header);
            let mut world = World::new(&scenario, trace, false, threads);
            world.ahead.patient = patient;
            world.run(None);
            let offered = world.ahead.offered;
            let (record, _) = world.finish();
            let labels = crate::results::NodeLabels::of(&scenario);
            let mut csv = Vec::new();
            record.results.write_attempts_csv(&labels, &mut csv).expect("written to memory");
            (offered, csv)
        };
        let (none, alone) = run(1, false);
        assert_eq!(none, 0, "one thread copies nothing");
        let (offered, together) = run(2, true);
        assert!(offered > 10, "retries planned on copies and offered: {offered}");
        assert!(alone == together, "the same attempts on one thread and two");
    }
}
