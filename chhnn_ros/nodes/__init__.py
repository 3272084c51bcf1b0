"""The thin ROS 2 node adapters: parameters, topics, conversions, a call into the app core."""
