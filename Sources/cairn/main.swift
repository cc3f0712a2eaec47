import Dispatch

// Synchronous on purpose: nothing of Swift concurrency or libdispatch may start before `Startup`
// has checked that there are descriptors for it (see Startup.swift).
Startup.prepareOrExit()
Task { await Cairn.runAndExit() }
dispatchMain()
