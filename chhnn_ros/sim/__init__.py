"""chhnn_ros.sim"""
