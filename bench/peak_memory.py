"""The peak resident memory of this process, for the benches' child processes."""


def high_water_mb() -> float:
    """This process's own high-water mark of resident memory (``VmHWM``), in MB.

    Not ``getrusage(RUSAGE_SELF).ru_maxrss``: a process started by fork and exec keeps its parent's high-water
    mark there, so a child of a bench that once held gigabytes reports those gigabytes as its own."""
    with open("/proc/self/status") as f:
        return int(f.read().split("VmHWM:")[1].split()[0]) / 1024
