//! The workload's next arrivals, drawn ahead, and the first route searches of the payments
//! about to start (the workload's and the scenario's payment list's), run ahead on every thread
//! the run was given.
//!
//! The route search is the simulator's inner loop, and most searches are a payment's first.
//! With more than one thread, the world draws the workload's next arrivals in a batch (in the
//! order and with the calls the one-at-a-time loop makes, so the workload's stream is drawn
//! alike), or takes the payment list's next entries, and has each payer plan its payment now,
//! read-only, all at once across the threads ([`Node::plan_ahead`]). When a payment starts, its
//! plan is offered to the payer, which takes it only if it is exactly the answer it would
//! compute then: the same payment at the same instant, and no input taken by the payer since
//! (see `node_core::node::ahead`). So results, trace and every output are the same bytes
//! whatever the thread count; threads only change how long a run takes. With one thread nothing
//! is drawn or planned ahead.
//!
//! It does not run anything else in parallel: deliveries, timers, retries and the commitment
//! dance stay on the world's one loop.

use crate::scenario::PaymentListDef;
use crate::workload::{Arrival, Workload};
use node_core::node::PlannedPayment;
use node_core::router::RouterConfig;
use node_core::{Node, NodeId, SimTime};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Arrivals drawn ahead per thread: enough to keep the threads busy between two batches, few
/// enough that plans rarely go stale (a payer that took an input since plans again).
const PER_THREAD: usize = 16;

/// An arrival of the workload drawn ahead.
pub(super) struct Upcoming {
    /// The arrival.
    pub arrival: Arrival,
    /// When the next one comes (what the workload answered right after drawing this one).
    pub next_at: Option<SimTime>,
    /// Its payment's first plan, made ahead.
    pub planned: Option<PlannedPayment>,
}

/// A payment to plan ahead: arrival `index` of the batch (or of the payment list), due `at`.
struct Job {
    index: usize,
    at: SimTime,
    from: NodeId,
    to: NodeId,
    amount_msat: u64,
    router: Option<RouterConfig>,
}

/// The arrivals drawn ahead, oldest first.
pub(super) struct Ahead {
    threads: usize,
    upcoming: VecDeque<Upcoming>,
    /// Plans of the scenario's payment list made ahead, by index, oldest first.
    listed: VecDeque<(usize, Option<PlannedPayment>)>,
}

impl Ahead {
    /// Draws ahead for `threads` threads (1: one arrival at a time, as it comes).
    pub fn new(threads: usize) -> Ahead {
        Ahead { threads: threads.max(1), upcoming: VecDeque::new(), listed: VecDeque::new() }
    }

    /// The arrival due at `now`: drawn now (with the next ones, and their plans, when there
    /// are threads to plan them).
    pub fn next(&mut self, now: SimTime, workload: &mut Workload, nodes: &[Node]) -> Upcoming {
        if self.upcoming.is_empty() {
            self.draw(now, workload);
            if self.threads > 1 {
                self.plan(now, nodes);
            }
        }
        self.upcoming.pop_front().expect("invariant: a batch holds at least one arrival")
    }

    /// Draws a batch from `now`, one arrival and the time of the next at a time, as the world
    /// would when each comes.
    fn draw(&mut self, now: SimTime, workload: &mut Workload) {
        let batch = if self.threads > 1 { self.threads * PER_THREAD } else { 1 };
        let mut at = now;
        for _ in 0..batch {
            let arrival = workload.draw();
            let next_at = workload.next_arrival(at);
            self.upcoming.push_back(Upcoming { arrival, next_at, planned: None });
            match next_at {
                Some(next) => at = next,
                None => break,
            }
        }
    }

    /// Plans every payment of the batch drawn at `now`.
    fn plan(&mut self, now: SimTime, nodes: &[Node]) {
        // Each arrival's time: the batch's first is now, each next the one before announced.
        let mut jobs: Vec<Job> = Vec::new();
        let mut at = Some(now);
        for (index, upcoming) in self.upcoming.iter().enumerate() {
            if let (Some(at), &Arrival::Pay { from, to, amount_msat, router }) =
                (at, &upcoming.arrival)
                && from != to
            {
                jobs.push(Job { index, at, from, to, amount_msat, router });
            }
            at = upcoming.next_at;
        }
        for (index, planned) in plan_all(self.threads, &jobs, nodes) {
            self.upcoming[index].planned = planned;
        }
    }

    /// The plan of payment `index` of `list`, due now: made now with the next ones' (each due
    /// when the one before was, or at its own time if later, as the world schedules them), or
    /// made with an earlier batch. `None` with one thread.
    pub fn list_plan(
        &mut self,
        index: usize,
        now: SimTime,
        list: &PaymentListDef,
        nodes: &[Node],
    ) -> Option<PlannedPayment> {
        if self.threads == 1 {
            return None;
        }
        while self.listed.front().is_some_and(|&(i, _)| i < index) {
            self.listed.pop_front();
        }
        if self.listed.is_empty() {
            let payments = &list.payments.payments;
            let end = payments.len().min(index + self.threads * PER_THREAD);
            let mut at = now;
            let mut jobs = Vec::new();
            for (i, &(due, from, to, amount_msat)) in
                payments.iter().enumerate().take(end).skip(index)
            {
                at = at.max(due);
                let router = match list.routers.len() {
                    0 => None,
                    n => Some(list.routers[i % n]),
                };
                jobs.push(Job { index: i, at, from, to, amount_msat, router });
            }
            let mut plans = plan_all(self.threads, &jobs, nodes);
            plans.sort_by_key(|&(i, _)| i);
            self.listed.extend(plans);
        }
        match self.listed.front() {
            Some(&(i, _)) if i == index => self.listed.pop_front().and_then(|(_, planned)| planned),
            _ => None,
        }
    }
}

/// Plans `jobs` on `threads` threads: (job index, plan), in no particular order.
fn plan_all(threads: usize, jobs: &[Job], nodes: &[Node]) -> Vec<(usize, Option<PlannedPayment>)> {
    let plan_one = |job: &Job| {
        let terms = nodes[job.to.index()].invoice_terms(job.amount_msat);
        let payer = &nodes[job.from.index()];
        (job.index, payer.plan_ahead(job.at, job.to, job.amount_msat, terms, job.router))
    };
    // Each thread takes the next job not taken yet; which thread plans which job changes
    // nothing, as a plan depends only on the nodes and the job.
    let next = AtomicUsize::new(0);
    let work = || {
        let mut plans = Vec::new();
        while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
            plans.push(plan_one(job));
        }
        plans
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut plans = work();
        for helper in helpers {
            plans.extend(helper.join().expect("a planning thread panicked"));
        }
        plans
    })
}
