#!/bin/bash
set -x

. /opt/stack/devstack/openrc admin demo

# Get ID for physnet to later create OVS ports
net_id=`neutron net-show physnet1 -F id -f value`

# One instance, with one vNIC port on OVS w/ VLAN
nova boot --flavor m1.small --key_name stack-ssh \
  --image Fedora-Cloud-Base-23-20151030.x86_64 \
  --nic net-id=$net_id Instance-0

# Two instances, each with one VF port
for i in 1 2
do
  port_id=`neutron port-show physnet1-vf$i -F id -f value`
  nova boot --flavor m1.small --key_name stack-ssh \
    --image Fedora-Cloud-Base-23-20151030.x86_64 \
    --nic port-id=$port_id Instance-$i
done
