// StoragePlanner
