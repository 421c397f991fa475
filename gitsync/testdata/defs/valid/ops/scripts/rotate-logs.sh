#!/usr/bin/env bash
echo rotating
