"""chhnn_ros.nodes"""
