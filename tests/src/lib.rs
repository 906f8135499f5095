//! The black-box test suite of Flowline lives in tests/api; this library is empty.
