//! firmware-sim: the simulated 12-lead ECG amplifier speaking the qrsd serial protocol.
