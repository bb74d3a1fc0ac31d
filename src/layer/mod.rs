//! Layer tar writing and safe unpacking (in progress).
