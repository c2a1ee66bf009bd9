"""What leaves the simulator: the results folder (`run_folder.RunFolder`: its files declared
once, its kind, the inputs it records, every file written and read back checked), the figures
(`figures`) and the console text (`console`)."""
