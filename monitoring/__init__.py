"""Operations: health endpoints, and later Prometheus metrics and structured logs."""
