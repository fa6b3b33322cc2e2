// The planner's JSON outputs are JSONValues; a program that imports StoragePlanner gets the type with it.
@_exported public import BerthJSON
