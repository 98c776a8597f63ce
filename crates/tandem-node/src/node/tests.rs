//! Tests of the Node with the fake host and a virtual clock.
