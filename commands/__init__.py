"""The ``pbx`` command line. gevent patches the standard library before anything else loads.

Python 3.11 needs ``queue=False`` (eventsourcing back-ports Queue.shutdown; ESL-NOTES C.2).
"""

from gevent import monkey

monkey.patch_all(queue=False)
