"""What leaves the simulator: the results folder (`run_folder`: the inputs it records, its
files read back checked)."""
