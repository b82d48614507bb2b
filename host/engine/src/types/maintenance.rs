//! The maintenance state machine.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceState {
    Deactivated,
    Activating,
    Activated,
}

impl MaintenanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Deactivated => "deactivated",
            Self::Activating => "activating",
            Self::Activated => "activated",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "deactivated" => Some(Self::Deactivated),
            "activating" => Some(Self::Activating),
            "activated" => Some(Self::Activated),
            _ => None,
        }
    }
}
