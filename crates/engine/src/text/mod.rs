//! Text normalisation and fraud-script matching (in progress).
