"""Orchestration of dataset runs by Apache Airflow.

``plan`` turns the dataset registry into DAG plans (pure, no Airflow import); ``airflow_tasks`` is the
only module of the package that imports Airflow (the task body); ``local`` drives a local Airflow
installation (``airflow db migrate``, pools, connections, ``airflow dags test``) through its CLI.
"""
