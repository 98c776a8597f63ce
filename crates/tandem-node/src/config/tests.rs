//! Tests of the configuration.
use super::*;
