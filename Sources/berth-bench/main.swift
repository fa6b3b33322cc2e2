print("berth-bench")
