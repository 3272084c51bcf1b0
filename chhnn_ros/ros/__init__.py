"""ROS 2 glue: parameters, QoS, image conversions, typed messages, diagnostics, the probe, the runtime."""
