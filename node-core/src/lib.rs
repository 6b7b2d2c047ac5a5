//! node-core: one Lightning node as a sans-IO state machine, following the BOLTs.
//!
//! A [`Node`] takes inputs — a peer connected or disconnected, a peer message, a block, a timer,
//! a `lightning-cli`-style [`Command`] — each with the current [`SimTime`], and queues
//! [`Action`]s: messages to send, transactions to broadcast, timers to set, events to report. The
//! driver (the simulator in `sim`, or a test harness) delivers them. Nothing here reads a clock,
//! does I/O or draws randomness of its own; a node's random stream is seeded by its driver.
//!
//! Modules, from the bottom up: [`ids`] (identifiers, time), [`chain`] (transactions as a node
//! sees them) and [`wallet`]; [`policy`], [`commitment`] and [`onion`] (BOLT 7, 3 and 4
//! arithmetic and data); [`htlc`] and [`channel`] (the BOLT 2 state machine); [`gossip`] and
//! [`graph`] (the node's view of the network); [`router`], [`invoice`] and [`payment`]; and
//! [`node`], which ties them together.

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod chain;
pub mod channel;
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
#[cfg(feature = "test-utils")]
pub mod testing;
pub mod wallet;

pub use config::{Implementation, NodeConfig};
pub use event::Event;
pub use ids::{ChannelId, NodeId, PaymentHash, Preimage, Scid, SimTime};
pub use node::{Action, Command, CommandError, CommandOutput, Node, Timer};
