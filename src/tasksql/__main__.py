from tasksql.cli import main

main()
