"""Bookings and attendance: the activities a child is enrolled in, their sessions, bookings.

`models` holds the tables; `activities` what a service defines (activities, their sessions,
closed days, enrolments); `cutoff` until when a day can be changed; `bookings` what families
and agents do (book, cancel, the waiting list and its offers). Nothing here imports Flask.
"""
