//! Scenario files: the RON schema, its defaults, and validation into a [`Scenario`] whose names
//! are resolved to node ids and whose units are converted once (seconds and milliseconds to µs).
//! Every field is documented with its unit and default in `scenarios/README.md`. A malformed or
//! inconsistent file becomes one [`ScenarioError`] naming the file and, where it can be found,
//! the line and column. Running a scenario is the world's job.
//!
//! Loading is a pipeline: the text is parsed into a [`ScenarioFile`] (`file`: the schema), an
//! optional edit changes its fields (a sweep cell's parameters), and `validate` checks it and
//! resolves it into a [`Scenario`] (`model`), pointing at bad values through `locate`. Every
//! public type is re-exported here, so its path is `scenario::X` whichever file holds it.

mod file;
mod locate;
mod model;
pub mod splice;
mod validate;

pub use file::{
    ChainSpec, ChannelSpec, FaultSpec, ImportSpec, ItemSpec, LinkOverride, LinksSpec,
    NodeOverrides, NodeSpec, OutputsSpec, PolicySpec, RandomFaultsSpec, ScenarioFile,
    ScheduledFaultSpec, ShopSpec, StepSpec, StopSpec,
};
pub use locate::ScenarioError;
pub use model::{
    ChannelDef, Fault, ImportedNetwork, MAX_DURATION_S, MAX_GENERATED_CHANNELS,
    MAX_GENERATED_NODES, MAX_LATENCY_MS, MAX_MONEY_SAT, NodeDef, PaymentListDef, Scenario, Step,
};

pub(crate) use validate::check_name_in;

use locate::Locator;
use std::path::Path;

impl Scenario {
    /// Reads and validates a scenario file: UTF-8 (an error at the line and column of the first
    /// byte that is not), a byte-order mark at the start skipped.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let source = crate::input::read_file(path)?;
        Scenario::parse(&path.display().to_string(), &source)
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn parse(file: &str, source: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse_with(file, source, |_| Ok(()))
    }

    /// Parses scenario text, lets `edit` change the fields (a sweep cell's parameters; an
    /// error it returns is reported against the file), then validates. A byte-order mark at the
    /// start is skipped.
    pub fn parse_with(
        file: &str,
        source: &str,
        edit: impl FnOnce(&mut ScenarioFile) -> Result<(), String>,
    ) -> Result<Scenario, ScenarioError> {
        let source = source.strip_prefix('\u{feff}').unwrap_or(source);
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let mut raw: ScenarioFile = options.from_str(source).map_err(|e| ScenarioError {
            file: file.to_string(),
            position: Some((e.span.start.line, e.span.start.col)),
            message: e.code.to_string(),
        })?;
        edit(&mut raw).map_err(|message| ScenarioError {
            file: file.to_string(),
            position: None,
            message,
        })?;
        validate::validate(Locator::new(file, source), raw)
    }
}
