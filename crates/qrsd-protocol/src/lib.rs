//! Amplifier serial framing: versioned frames, CRC, resynchronising decoder that never panics.
