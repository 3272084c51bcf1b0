"""chhnn_ros.bench"""
