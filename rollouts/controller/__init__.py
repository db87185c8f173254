"""The in-cluster controller: watching, queueing, observing, reconciling, applying, leader election, metrics."""
