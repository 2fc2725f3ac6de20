"""Running the code location beyond one machine: the executor chosen by ``SSOT_EXECUTOR`` and Celery workers."""
