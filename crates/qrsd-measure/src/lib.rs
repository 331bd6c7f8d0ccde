//! Per-site QRSd measurement, quality flags and the site recommendation (pure logic).
