-- One database per service (a service never reads another's tables). The PostgreSQL
-- image runs this once, when its volume is first initialised; the role `shop` is
-- POSTGRES_USER. In production give each service its own role that owns only its own
-- database (see deploy/README.md).
CREATE DATABASE users;
CREATE DATABASE products;
CREATE DATABASE payments;
CREATE DATABASE orders;
CREATE DATABASE notifications;
