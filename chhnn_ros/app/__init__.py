"""The application core, without ROS: what the robot knows and how it is taught, labelled and saved."""
