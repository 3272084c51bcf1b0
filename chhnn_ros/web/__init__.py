"""The teach console in the browser, without ROS: what the robot sees and recognises, click an
object and name it, the classes it knows with a thumbnail each, and node health.

:mod:`~chhnn_ros.web.state` holds what the page shows (fed by the web node with plain Python values),
:mod:`~chhnn_ros.web.app` is the Starlette app (page, HTTP API, WebSocket),
:mod:`~chhnn_ros.web.guard` its security middleware, :mod:`~chhnn_ros.web.server` runs it with uvicorn
in a thread of the node's process.
"""
