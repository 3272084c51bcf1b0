"""chhnn_ros.data"""
