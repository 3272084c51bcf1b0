"""chhnn_ros.perception"""
