"""Gazebo (gz sim) + the chhnn_ros perception pipeline on the simulated camera.

    ros2 launch chhnn_ros sim.launch.py                          # GUI, worlds/tabletop.sdf
    ros2 launch chhnn_ros sim.launch.py headless:=true           # server only, offscreen rendering (CI)
    ros2 launch chhnn_ros sim.launch.py world:=/path/my.sdf bridge_config:=/path/my_bridge.yaml

Starts ``gz sim`` through ros_gz_sim's gz_sim.launch.py (``-r``: run at once;
headless adds ``-s --headless-rendering``), bridges the camera image,
camera_info, the ground-truth boxes and /clock with ros_gz_bridge
(config/gz_bridge.yaml), turns the boxes into the groundtruth detector's
``truth`` (gz_truth_node) and includes perception.launch.py with
use_sim_time:=true, the built-in camera off and the detector on the bridged
image (/camera/image_raw).  The world needs no download (primitive shapes).
Teach an object by its label (= its track id, see worlds/tabletop.sdf):
``chhnn-teach "red cube" --track-id 1``, then watch /chhnn/objects.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.conditions import IfCondition, UnlessCondition
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from chhnn_ros.ros.parent import STOP_WITH_PARENT_ENV

PACKAGE = "chhnn_ros"
IMAGE_TOPIC = "/camera/image_raw"  # the ros_topic_name of the image in config/gz_bridge.yaml
BOXES_TOPIC = "/camera/boxes"  # and of the boundingbox_camera's boxes


def generate_launch_description() -> LaunchDescription:
    share = FindPackageShare(PACKAGE)
    args = [
        DeclareLaunchArgument("world", default_value=PathJoinSubstitution([share, "worlds", "tabletop.sdf"]),
                              description="SDF world to simulate."),
        DeclareLaunchArgument("headless", default_value="false",
                              description="true: gz sim server only with offscreen rendering (no GUI)."),
        DeclareLaunchArgument("bridge_config", default_value=PathJoinSubstitution([share, "config", "gz_bridge.yaml"]),
                              description="ros_gz_bridge YAML (topics of the world's sensors)."),
        DeclareLaunchArgument("namespace", default_value="chhnn", description="Namespace of the perception nodes."),
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution([share, "config", "perception.yaml"]),
                              description="Node parameters of the perception nodes (YAML)."),
        DeclareLaunchArgument("learner", default_value="",
                              description="Continual learner: chhnn, ncm, slda, ... (empty: the params file's)."),
        DeclareLaunchArgument("detector", default_value="",
                              description="groundtruth (the boundingbox_camera's boxes, via gz_truth) or yolo, ssd "
                                          "(empty: the params file's)."),
        DeclareLaunchArgument("encoder", default_value="",
                              description="efficientnet, efficientnet-onnx, clip (empty: the params file's)."),
        DeclareLaunchArgument("device", default_value="",
                              description="Torch device: auto, cpu, cuda:0 (empty: the params file's)."),
    ]
    world = LaunchConfiguration("world")
    gz_launch = PathJoinSubstitution([FindPackageShare("ros_gz_sim"), "launch", "gz_sim.launch.py"])
    gz_gui = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(gz_launch),
        launch_arguments={"gz_args": ["-r ", world], "on_exit_shutdown": "true"}.items(),
        condition=UnlessCondition(LaunchConfiguration("headless")))
    gz_headless = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(gz_launch),
        launch_arguments={"gz_args": ["-s -r --headless-rendering ", world], "on_exit_shutdown": "true"}.items(),
        condition=IfCondition(LaunchConfiguration("headless")))
    bridge = Node(package="ros_gz_bridge", executable="parameter_bridge", name="gz_bridge", output="screen",
                  parameters=[{"config_file": LaunchConfiguration("bridge_config"), "use_sim_time": True}])
    # Ground-truth boxes → the 'truth' topic of the groundtruth detector (in the perception namespace).
    truth = Node(package=PACKAGE, executable="gz_truth_node", name="gz_truth", output="screen",
                 namespace=LaunchConfiguration("namespace"), parameters=[{"use_sim_time": True}],
                 remappings=[("boxes", BOXES_TOPIC)], additional_env={STOP_WITH_PARENT_ENV: "1"})
    perception = IncludeLaunchDescription(
        PythonLaunchDescriptionSource(PathJoinSubstitution([share, "launch", "perception.launch.py"])),
        launch_arguments={
            "namespace": LaunchConfiguration("namespace"),
            "params_file": LaunchConfiguration("params_file"),
            "use_sim_time": "true",
            "use_camera": "false",
            "image_topic": IMAGE_TOPIC,
            "learner": LaunchConfiguration("learner"),
            "detector": LaunchConfiguration("detector"),
            "encoder": LaunchConfiguration("encoder"),
            "device": LaunchConfiguration("device"),
        }.items())
    return LaunchDescription([*args, gz_gui, gz_headless, bridge, truth, perception])
