from sgen.teachers.base import Teacher

__all__ = ["Teacher"]
