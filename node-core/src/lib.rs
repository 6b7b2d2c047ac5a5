//! node-core: one Lightning node as a sans-IO state machine, following the BOLTs.
//!
//! A [`Node`] takes inputs — a peer connected or disconnected, a peer message, a block, a timer,
//! a `lightning-cli`-style [`Command`] — each with the current [`SimTime`], and queues
//! [`Action`]s: messages to send, transactions to broadcast, timers to set, events to report. The
//! driver (the simulator in `sim`, or a test harness) delivers them. Nothing here reads a clock,
//! does I/O or draws randomness of its own; a node's random stream is seeded by its driver.
//!
//! Modules, from the bottom up: [`ids`] (identifiers, time), [`chain`] (transactions as a node
//! sees them), [`wallet`] and [`onchain`] (BOLT 5 claims); [`policy`], [`commitment`] and
//! [`onion`] (BOLT 7, 3 and 4 arithmetic, data and transactions); [`htlc`] and [`channel`] (the
//! BOLT 2 state machine); [`gossip`] and [`graph`] (the node's view of the network); [`router`],
//! [`invoice`], [`payment`] (outbound payments and their routers) and [`switch`] (where HTLCs
//! came from, held parts, forwarding checks); [`action`] and [`event`] (what a node asks for and
//! reports); [`snapshot`] (a read-only picture for drivers); and [`node`], which ties them
//! together. With the `test-utils` feature, `testing` is an in-process network for tests and
//! benchmarks.

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod action;
pub mod chain;
pub mod channel;
pub mod command;
pub mod commitment;
pub mod config;
pub mod event;
pub mod gossip;
pub mod graph;
pub mod htlc;
pub mod ids;
pub mod invoice;
pub mod msg;
pub mod node;
pub mod onchain;
pub mod onion;
pub mod payment;
pub mod policy;
pub mod router;
pub mod snapshot;
pub(crate) mod switch;
#[cfg(feature = "test-utils")]
pub mod testing;
pub mod wallet;

pub use config::{Implementation, NodeConfig};
pub use event::Event;
pub use ids::{ChannelId, NodeId, PaymentHash, Preimage, Scid, SimTime};
pub use node::{Action, Command, CommandError, CommandOutput, Node, Timer};
